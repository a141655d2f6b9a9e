/// Standard-alphabet base64 (RFC 4648 §4) for gRPC-Web text bodies and `-bin` metadata.
public enum Base64 {
    /// Output length of `encode` for `n` input bytes (always padded).
    public static func encodedLength(_ n: Int) -> Int { (n + 2) / 3 * 4 }

    /// Appends the padded encoding of `bytes` to `out`.
    public static func encode(_ bytes: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        let n = bytes.count
        if n == 0 { return }
        let len = encodedLength(n)
        appendBytes(&out, upTo: len) { dst in
            encodeRaw(bytes, dst)
            return len
        }
    }

    /// Padded encoding of `bytes` as a String.
    public static func encode(_ bytes: [UInt8]) -> String {
        let len = encodedLength(bytes.count)
        return bytes.withUnsafeBytes { src in
            String(unsafeUninitializedCapacity: len) { buf in
                if len > 0 { encodeRaw(src, buf.baseAddress!) }
                return len
            }
        }
    }

    /// Decoder for `-bin` metadata: accepts padded and unpadded input (SPEC-H2: "accept both"); no whitespace, no
    /// padding except at the very end. Returns nil on invalid input.
    public static func decode(_ s: String) -> [UInt8]? {
        var s = s
        return s.withUTF8 { decode(UnsafeRawBufferPointer($0)) }
    }

    /// Same rules as `decode(_: String)`, on raw characters.
    public static func decode(_ chars: UnsafeRawBufferPointer) -> [UInt8]? {
        let n = chars.count
        if n == 0 { return [] }
        let tail = n & 3
        if tail == 1 { return nil }
        // Every complete group except the one holding the end goes through the fast path (no '=' allowed there).
        // The end is either a complete group that may be padded, or an unpadded 2-3 character tail.
        let fast = tail == 0 ? n / 4 - 1 : n / 4
        let pad = Base64Tables.pad
        var out: [UInt8] = []
        var ok = true
        appendBytes(&out, upTo: fast * 3 + 3) { dst in
            Base64Tables.decode.withUnsafeBufferPointer { table in
                let src = chars.baseAddress!.assumingMemoryBound(to: UInt8.self)
                guard decodeFast(src, quanta: fast, dst, table) == fast else { ok = false; return 0 }
                let r = fast * 4
                let last: QuantumResult
                if tail == 0 {
                    last = decodeQuantumSlow(src[r], src[r + 1], src[r + 2], src[r + 3], table)
                } else {
                    let c2 = tail == 3 ? src[r + 2] : pad
                    if src[r] == pad || src[r + 1] == pad || (tail == 3 && c2 == pad) { ok = false; return 0 }
                    last = decodeQuantumSlow(src[r], src[r + 1], c2, pad, table)
                }
                guard case let .bytes(v, count) = last else { ok = false; return 0 }
                storeQuantum(v, count: count, dst + fast * 3)
                return fast * 3 + count
            }
        }
        return ok ? out : nil
    }

    // MARK: - Raw loops shared with the streaming coders

    /// Encodes all of `src` into `dst`, which must have room for `encodedLength(src.count)` bytes.
    static func encodeRaw(_ src: UnsafeRawBufferPointer, _ dst: UnsafeMutablePointer<UInt8>) {
        let n = src.count
        let s = src.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let out = UnsafeMutableRawPointer(dst)
        Base64Tables.encodePairs.withUnsafeBufferPointer { pairs in
            var i = 0, o = 0
            let p = pairs.baseAddress!
            // Main loop: 12 input bytes -> 16 characters per iteration, one 4-byte load per 3 input bytes
            // (the 4th byte loaded is ignored), which needs one byte of slack past the group.
            while i + 13 <= n {
                for k in 0..<4 {
                    let w = UInt32(bigEndian: UnsafeRawPointer(s + i + 3 * k).loadUnaligned(as: UInt32.self))
                    let v = Int(w >> 8)
                    let pair = UInt32(p[v >> 12]) | UInt32(p[v & 0xFFF]) << 16
                    out.storeBytes(of: pair.littleEndian, toByteOffset: o + 4 * k, as: UInt32.self)
                }
                i += 12
                o += 16
            }
            while i + 3 <= n {
                let v = Int(s[i]) << 16 | Int(s[i + 1]) << 8 | Int(s[i + 2])
                out.storeBytes(of: p[v >> 12].littleEndian, toByteOffset: o, as: UInt16.self)
                out.storeBytes(of: p[v & 0xFFF].littleEndian, toByteOffset: o + 2, as: UInt16.self)
                i += 3
                o += 4
            }
            let rest = n - i
            if rest > 0 {
                Base64Tables.alphabet.withUnsafeBufferPointer { a in
                    let b0 = Int(s[i]), b1 = rest == 2 ? Int(s[i + 1]) : 0
                    dst[o] = a[b0 >> 2]
                    dst[o + 1] = a[(b0 & 3) << 4 | b1 >> 4]
                    dst[o + 2] = rest == 2 ? a[(b1 & 15) << 2] : Base64Tables.pad
                    dst[o + 3] = Base64Tables.pad
                }
            }
        }
    }

    /// Decodes up to `quanta` unpadded 4-character groups from `src` into `dst` (3 bytes each). Returns the number
    /// of quanta decoded: less than `quanta` means group number `result` holds a non-alphabet character (or '=')
    /// and was not decoded.
    @inline(__always)
    static func decodeFast(_ src: UnsafePointer<UInt8>, quanta: Int, _ dst: UnsafeMutablePointer<UInt8>,
                           _ table: UnsafeBufferPointer<UInt32>) -> Int {
        let t = table.baseAddress!
        var q = 0
        // All but the last quantum: one 4-byte store whose spare byte the next quantum overwrites.
        while q + 1 < quanta {
            let p = src + q * 4
            let v = t[Int(p[0])] | t[256 + Int(p[1])] | t[512 + Int(p[2])] | t[768 + Int(p[3])]
            if v & Base64Tables.invalid != 0 { return q }
            UnsafeMutableRawPointer(dst + q * 3).storeBytes(of: (v << 8).bigEndian, as: UInt32.self)
            q += 1
        }
        while q < quanta {
            let p = src + q * 4
            let v = t[Int(p[0])] | t[256 + Int(p[1])] | t[512 + Int(p[2])] | t[768 + Int(p[3])]
            if v & Base64Tables.invalid != 0 { return q }
            let d = dst + q * 3
            d[0] = UInt8(truncatingIfNeeded: v >> 16)
            d[1] = UInt8(truncatingIfNeeded: v >> 8)
            d[2] = UInt8(truncatingIfNeeded: v)
            q += 1
        }
        return q
    }

    @inline(__always)
    static func storeQuantum(_ v: UInt32, count: Int, _ d: UnsafeMutablePointer<UInt8>) {
        d[0] = UInt8(truncatingIfNeeded: v >> 16)
        if count > 1 { d[1] = UInt8(truncatingIfNeeded: v >> 8) }
        if count > 2 { d[2] = UInt8(truncatingIfNeeded: v) }
    }
}
