/// Writes server-to-client frames (RFC 6455 §5.2). Server frames are never masked (§5.1), so a frame is a header
/// followed by the payload bytes as they are; callers that already hold the payload in their own buffer can write
/// just the header and append the payload themselves.
public enum WebSocketFrameEncoder {
    /// Largest control-frame payload (§5.5).
    public static let maxControlPayload = 125

    /// Appends a 2, 4 or 10-byte header, always using the shortest length form (§5.2 requires minimal encoding).
    public static func writeFrameHeader(opcode: WebSocketOpcode, length: Int, fin: Bool = true, into out: inout [UInt8]) {
        precondition(length >= 0, "negative WebSocket payload length")
        precondition(!opcode.isControl || (fin && length <= maxControlPayload),
                     "control frames must be final and carry at most 125 bytes")
        out.append((fin ? 0x80 : 0) | opcode.rawValue)
        if length < 126 {
            out.append(UInt8(length))
        } else if length <= 0xFFFF {
            out.append(126)
            out.append(UInt8(truncatingIfNeeded: length >> 8))
            out.append(UInt8(truncatingIfNeeded: length))
        } else {
            out.append(127)
            let value = UInt64(length)
            for shift in stride(from: 56, through: 0, by: -8) {
                out.append(UInt8(truncatingIfNeeded: value >> UInt64(shift)))
            }
        }
    }

    /// Appends a complete, final frame.
    public static func writeFrame(opcode: WebSocketOpcode, payload: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        writeFrameHeader(opcode: opcode, length: payload.count, fin: true, into: &out)
        out.append(contentsOf: payload)
    }

    /// Appends a close frame with `code` and `reason`. The reason is cut to the 123 bytes that fit beside the code,
    /// at a character boundary so the peer still receives valid UTF-8 (it must fail the connection otherwise).
    public static func writeClose(code: UInt16, reason: String, into out: inout [UInt8]) {
        var utf8 = Array(reason.utf8)
        let room = maxControlPayload - 2
        if utf8.count > room {
            var end = room
            // Back up over continuation bytes (10xxxxxx) so the cut lands on the start of a scalar.
            while end > 0 && utf8[end] & 0xC0 == 0x80 { end -= 1 }
            utf8.removeSubrange(end...)
        }
        writeFrameHeader(opcode: .close, length: 2 + utf8.count, into: &out)
        out.append(UInt8(truncatingIfNeeded: code >> 8))
        out.append(UInt8(truncatingIfNeeded: code))
        out.append(contentsOf: utf8)
    }
}
