import FuzzSupport
import WebSocketCodec

/// Client-to-server WebSocket frames. Control bytes: [mode, limits, split selector].
/// - mode even: the rest is a raw frame stream (mode & 2: a description of frames, see
///   `framesFromDescription`). The decoder must produce the same events and the same error
///   however the stream is cut, and never an event over its limits. Limits include values near Int.max, where a
///   length check that adds before comparing overflows.
/// - mode odd (round trip): the rest describes messages (type, fragment sizes, interleaved pings); they are
///   written with `WebSocketFrameEncoder`, masked as a client does, and must decode to exactly those messages.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let mode = input.byte()
    let limitsByte = input.byte()
    let selector = input.byte()
    if mode & 1 == 0 {
        let limits = fuzzLimits(limitsByte)
        // mode & 2: the rest describes frames (structure-aware), so announced lengths near the limits and near
        // 2^63 combine with fragments easily; otherwise it is the raw stream.
        let stream = mode & 2 != 0 ? framesFromDescription(input.rest, limits: limits) : input.rest
        let whole = decode(stream, [0..<stream.count], limits: limits)
        let split = decode(stream, splitRanges(count: stream.count, selector: selector), limits: limits)
        fuzzCheck(whole.events == split.events && whole.error == split.error,
                  "split \(selector) changed the result: \(split) vs \(whole)")
        for event in whole.events {
            switch event {
            case .binary(let b), .text(let b):
                fuzzCheck(b.count <= limits.maxMessageSize, "message over the limit")
            case .ping(let b), .pong(let b):
                fuzzCheck(b.count <= 125, "control payload over 125 bytes")
            case .close:
                break
            }
        }
        return 0
    }

    var wire: [UInt8] = []
    var expected: [WebSocketEvent] = []
    let rest = input.rest
    var i = 0
    var rng = SplitMix64(seed: UInt64(limitsByte))
    while i < rest.count {
        let kind = rest[i]
        i += 1
        let length = min(Int(kind >> 2) * 9, rest.count - i)
        var payload = Array(rest[i..<(i + length)])
        i += length
        if kind & 1 != 0 {
            // Text: the fuzzer's bytes made valid UTF-8.
            payload = Array(String(decoding: payload, as: UTF8.self).utf8)
        }
        let opcode: WebSocketOpcode = kind & 1 != 0 ? .text : .binary
        // Fragments, with a ping between fragments when bit 1 is set.
        var start = 0
        var first = true
        repeat {
            let end = min(payload.count, start + 1 + Int(rng.next() % 300))
            let fin = end == payload.count
            appendClientFrame(first ? opcode : .continuation, Array(payload[start..<end]), fin: fin, key: UInt32(truncatingIfNeeded: rng.next()), into: &wire)
            if !fin && kind & 2 != 0 {
                let ping = Array(payload[start..<min(end, start + 125)])
                appendClientFrame(.ping, ping, fin: true, key: 0x0102_0304, into: &wire)
                expected.append(.ping(ping))
            }
            first = false
            start = end
        } while start < payload.count
        expected.append(opcode == .text ? .text(payload) : .binary(payload))
    }
    appendClientFrame(.close, [0x03, 0xE8] + Array("bye".utf8), fin: true, key: 0xA5A5_5A5A, into: &wire)
    expected.append(.close(code: 1000, reason: "bye"))
    let result = decode(wire, splitRanges(count: wire.count, selector: selector), limits: WebSocketLimits(maxFrameSize: .max, maxMessageSize: .max))
    fuzzCheck(result.error == nil, "round trip failed: \(String(describing: result.error))")
    fuzzCheck(result.events == expected, "round trip events differ")
    return 0
}

private func fuzzLimits(_ b: UInt8) -> WebSocketLimits {
    switch b & 3 {
    case 0: return WebSocketLimits()
    case 1: return WebSocketLimits(maxFrameSize: Int(b >> 2) * 5, maxMessageSize: Int(b >> 4) * 11)
    case 2: return WebSocketLimits(maxFrameSize: .max, maxMessageSize: .max)
    default: return WebSocketLimits(maxFrameSize: .max - Int(b >> 2), maxMessageSize: .max - Int(b >> 5))
    }
}

/// Builds a client stream from a description: per frame, a lead byte (FIN, RSV, opcode as on the wire), a length
/// selector and payload bytes. Selector values below 126 are the payload length itself; 126 and 127 take the next
/// two bytes as a 16-bit length; 128 and up announce a large length from `interestingLengths` (relative to the
/// limits, 2^16, 2^32, 2^63) in the 64-bit form, of which only the bytes left in the input are sent.
private func framesFromDescription(_ description: [UInt8], limits: WebSocketLimits) -> [UInt8] {
    var out: [UInt8] = []
    var i = 0
    func next() -> UInt8 {
        defer { i += 1 }
        return i < description.count ? description[i] : 0
    }
    let interesting = interestingLengths(limits)
    while i < description.count {
        let lead = next()
        let selector = next()
        var length: UInt64
        if selector < 126 {
            length = UInt64(selector)
        } else if selector < 128 {
            length = UInt64(next()) << 8 | UInt64(next())
        } else {
            length = interesting[Int(selector - 128) % interesting.count]
        }
        out.append(lead)
        if length < 126 {
            out.append(0x80 | UInt8(length))
        } else if length <= 0xFFFF && selector < 128 {
            out += [0x80 | 126, UInt8(length >> 8), UInt8(length & 0xFF)]
        } else {
            out.append(0x80 | 127)
            for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: length >> UInt64(shift))) }
        }
        out += [next(), next(), next(), next()]  // masking key
        let start = min(i, description.count)
        let take = Int(min(length, UInt64(description.count - start)))
        out += description[start..<(start + take)]
        i = start + take
    }
    return out
}

private func interestingLengths(_ limits: WebSocketLimits) -> [UInt64] {
    var values: [UInt64] = [126, 0xFFFF, 0x1_0000, 0xFFFF_FFFF, 0x1_0000_0000, UInt64(Int.max), UInt64(Int.max) - 1,
                            1 << 63, UInt64.max]
    for limit in [limits.maxFrameSize, limits.maxMessageSize] {
        for delta in [0, 1, 2, 3, 7, 64] where limit >= delta {
            values.append(UInt64(limit - delta))
            if limit <= Int.max - delta { values.append(UInt64(limit + delta)) }
        }
    }
    return values
}

/// A masked client frame: the server encoder's header with the MASK bit and key added, payload XORed by hand.
private func appendClientFrame(_ opcode: WebSocketOpcode, _ payload: [UInt8], fin: Bool, key: UInt32, into out: inout [UInt8]) {
    var header: [UInt8] = []
    WebSocketFrameEncoder.writeFrameHeader(opcode: opcode, length: payload.count, fin: fin, into: &header)
    header[1] |= 0x80
    let keyBytes = [UInt8(truncatingIfNeeded: key >> 24), UInt8(truncatingIfNeeded: key >> 16),
                    UInt8(truncatingIfNeeded: key >> 8), UInt8(truncatingIfNeeded: key)]
    out += header + keyBytes
    for (index, b) in payload.enumerated() { out.append(b ^ keyBytes[index & 3]) }
}

private func decode(_ stream: [UInt8], _ ranges: [Range<Int>], limits: WebSocketLimits) -> (events: [WebSocketEvent], error: WebSocketError?) {
    var decoder = WebSocketFrameDecoder(limits: limits)
    var events: [WebSocketEvent] = []
    for range in ranges {
        do throws(WebSocketError) {
            try withBytes(stream, range) { (piece) throws(WebSocketError) in try decoder.decode(piece, into: &events) }
        } catch {
            return (events, error)
        }
    }
    return (events, nil)
}

runLibFuzzer(fuzz)
