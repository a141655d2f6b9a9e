/// Base64 request-body decoder for text mode (PROTOCOLS.md §1.4).
///
/// Decodes per 4-character quantum, so independently padded chunks concatenated anywhere ("AAA=AAA=") are
/// accepted, a strict superset of what Envoy, improbable-eng and tonic accept. '=' is allowed only at the end of a
/// quantum ("xx==" or "xxx="); whitespace and every other non-alphabet character are rejected. Up to 3 characters
/// of an incomplete quantum are carried between calls, so input may be split anywhere.
/// After an error every further call rethrows it.
public struct Base64StreamDecoder: Sendable {
    /// Characters of the incomplete quantum carried over from the previous call (0...3 used).
    private var pending: (UInt8, UInt8, UInt8) = (0, 0, 0)
    private var pendingCount = 0
    /// Characters fed in earlier calls (including the pending ones), for absolute error positions.
    private var offset = 0
    private var failure: Base64Error?

    public init() {}

    /// Decodes `input`, appending the bytes of every completed quantum to `out` (at most 3/4 of the input size
    /// plus 3). On error, bytes of the quanta before the bad one have been appended.
    public mutating func decode(_ input: UnsafeRawBufferPointer, into out: inout [UInt8]) throws(Base64Error) {
        if let failure { throw failure }
        let n = input.count
        if n == 0 { return }
        let src = input.baseAddress!.assumingMemoryBound(to: UInt8.self)
        var r = 0
        defer { offset += n }

        // Finish a quantum split across calls, character by character.
        if pendingCount > 0 {
            let quantumStart = offset - pendingCount
            while pendingCount < 3 && r < n {
                setPending(pendingCount, src[r])
                pendingCount += 1
                r += 1
            }
            if r == n { return }
            let c3 = src[r]
            r += 1
            let result = Base64Tables.decode.withUnsafeBufferPointer { table in
                decodeQuantumSlow(pending.0, pending.1, pending.2, c3, table)
            }
            switch result {
            case let .invalidCharacter(index):
                let c = [pending.0, pending.1, pending.2, c3][index]
                try fail(character: c, at: quantumStart + index)
            case let .bytes(v, count):
                var b: (UInt8, UInt8, UInt8) = (0, 0, 0)
                withUnsafeMutableBytes(of: &b) { Base64.storeQuantum(v, count: count, $0.baseAddress!.assumingMemoryBound(to: UInt8.self)) }
                out.append(b.0)
                if count > 1 { out.append(b.1) }
                if count > 2 { out.append(b.2) }
            }
            pendingCount = 0
        }

        // Whole quanta inside this chunk: fast path, dropping to the validating path for padded/bad quanta.
        let quanta = (n - r) / 4
        var badAt = -1
        var badChar: UInt8 = 0
        if quanta > 0 {
            appendBytes(&out, upTo: quanta * 3) { dst in
                Base64Tables.decode.withUnsafeBufferPointer { table in
                    var q = 0, w = 0
                    while q < quanta {
                        let p = src + r + q * 4
                        let done = Base64.decodeFast(p, quanta: quanta - q, dst + w, table)
                        q += done
                        w += done * 3
                        if q == quanta { break }
                        let s = src + r + q * 4
                        switch decodeQuantumSlow(s[0], s[1], s[2], s[3], table) {
                        case let .invalidCharacter(index):
                            badAt = r + q * 4 + index
                            badChar = s[index]
                            return w
                        case let .bytes(v, count):
                            Base64.storeQuantum(v, count: count, dst + w)
                            w += count
                            q += 1
                        }
                    }
                    return w
                }
            }
        }
        if badAt >= 0 { try fail(character: badChar, at: offset + badAt) }
        r += quanta * 4

        while r < n {
            setPending(pendingCount, src[r])
            pendingCount += 1
            r += 1
        }
    }

    /// At end of body: leftover 1-3 characters (an unfinished quantum) is an error.
    public func finish() throws(Base64Error) {
        if let failure { throw failure }
        if pendingCount != 0 {
            throw Base64Error(message: "base64 body ends with an incomplete group of \(pendingCount) character(s)")
        }
    }

    /// True when no partial quantum is buffered (the input so far decoded completely).
    public var isAtQuantumBoundary: Bool { pendingCount == 0 }

    @inline(__always)
    private mutating func setPending(_ i: Int, _ c: UInt8) {
        switch i {
        case 0: pending.0 = c
        case 1: pending.1 = c
        default: pending.2 = c
        }
    }

    private mutating func fail(character c: UInt8, at position: Int) throws(Base64Error) {
        let what = c == Base64Tables.pad ? "misplaced '=' padding" : "invalid base64 character \(describe(c))"
        let e = Base64Error(message: "\(what) at offset \(position)")
        failure = e
        throw e
    }
}

private func describe(_ c: UInt8) -> String {
    let hex: [Character] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "A", "B", "C", "D", "E", "F"]
    return "0x" + String([hex[Int(c >> 4)], hex[Int(c & 0xF)]])
}
