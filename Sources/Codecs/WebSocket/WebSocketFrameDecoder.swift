/// Decodes client-to-server WebSocket frames (RFC 6455 §5) incrementally: feed it bytes as they come off the
/// socket, in any chunking, and it appends whole messages and control frames to `events`.
///
/// Server-side rules: every frame must be masked, no extension is ever negotiated (so RSV1-3 must be 0), data
/// messages may be fragmented with control frames interleaved, and text must be UTF-8 (checked as fragments
/// arrive, so bad text fails fast). Memory is bounded by `WebSocketLimits`: the size checks run as soon as a frame
/// header is complete, before any of its payload is buffered.
///
/// After a close frame has been decoded, later input is ignored: RFC 6455 §5.5.1 forbids the peer from sending
/// anything after it, and the connection is about to close anyway. After a throw the decoder is unusable and
/// rethrows the same error.
public struct WebSocketFrameDecoder: Sendable {
    private enum State: Sendable {
        /// Collecting the 6 to 14 bytes of a frame header.
        case header
        /// Copying and unmasking the current frame's payload.
        case payload
        /// A close frame was decoded; input is discarded.
        case closed
        case failed(WebSocketError)
    }

    /// A parsed frame header. `length` is already checked against the limits.
    private struct FrameHeader {
        var fin: Bool
        var opcode: WebSocketOpcode
        var length: Int
        var maskKey: UInt32
    }

    private let limits: WebSocketLimits
    private var state: State = .header
    /// The part of a header that straddles two `decode` calls (at most 14 bytes).
    private var partialHeader: [UInt8] = []

    // The frame whose payload is being read.
    private var frameOpcode: WebSocketOpcode = .binary
    private var frameFin = false
    private var frameMaskKey: UInt32 = 0
    private var frameRemaining = 0
    /// Payload bytes of this frame already unmasked: gives the masking phase for the next chunk.
    private var frameOffset = 0

    // The data message being reassembled (nil opcode: none open).
    private var messageOpcode: WebSocketOpcode?
    private var message: [UInt8] = []
    private var utf8 = UTF8Validator()
    /// Payload of the control frame being read (at most 125 bytes).
    private var control: [UInt8] = []

    public init(limits: WebSocketLimits = .init()) {
        self.limits = limits
    }

    /// True once a close frame has been decoded.
    public var isClosed: Bool {
        if case .closed = state { return true }
        return false
    }

    /// True while a fragmented data message is open (some fragments received, the final one not yet).
    public var isInsideMessage: Bool { messageOpcode != nil }

    /// Consumes all of `input`, appending complete events. After a throw the decoder is unusable.
    public mutating func decode(_ input: UnsafeRawBufferPointer, into events: inout [WebSocketEvent]) throws(WebSocketError) {
        if case .failed(let error) = state { throw error }
        do {
            try consume(input, into: &events)
        } catch {
            state = .failed(error)
            throw error
        }
    }

    private mutating func consume(_ input: UnsafeRawBufferPointer, into events: inout [WebSocketEvent]) throws(WebSocketError) {
        let count = input.count
        var i = 0
        while i < count {
            switch state {
            case .closed, .failed:
                return

            case .header:
                // Fast path: the whole header is in this chunk, parse it in place without copying.
                if partialHeader.isEmpty && count &- i >= 2 {
                    let length = try headerLength(input[i], input[i &+ 1])
                    if count &- i >= length {
                        let header = try parseHeader(input[i ..< i &+ length])
                        i &+= length
                        try begin(header, into: &events)
                        continue
                    }
                }
                // Slow path: accumulate. The lead bytes are checked as soon as they are here so that an unmasked
                // or otherwise bad frame is refused without waiting for the rest of its header.
                let target = partialHeader.count < 2 ? 2 : try headerLength(partialHeader[0], partialHeader[1])
                let take = min(target &- partialHeader.count, count &- i)
                partialHeader.append(contentsOf: input[i ..< i &+ take])
                i &+= take
                guard partialHeader.count >= 2 else { continue }
                let length = try headerLength(partialHeader[0], partialHeader[1])
                guard partialHeader.count == length else { continue }
                let header = try parseHeader(partialHeader)
                partialHeader.removeAll(keepingCapacity: true)
                try begin(header, into: &events)

            case .payload:
                let take = min(frameRemaining, count &- i)
                let chunk = UnsafeRawBufferPointer(rebasing: input[i ..< i &+ take])
                i &+= take
                if frameOpcode.isControl {
                    Self.appendUnmasked(chunk, to: &control, key: frameMaskKey, offset: frameOffset)
                } else {
                    let start = message.count
                    Self.appendUnmasked(chunk, to: &message, key: frameMaskKey, offset: frameOffset)
                    if messageOpcode == .text {
                        var validator = utf8
                        let valid = message.withUnsafeBytes { validator.feed(UnsafeRawBufferPointer(rebasing: $0[start...])) }
                        utf8 = validator
                        guard valid else { throw .invalidUTF8("text message is not valid UTF-8") }
                    }
                }
                frameOffset &+= take
                frameRemaining &-= take
                if frameRemaining == 0 {
                    try finishFrame(into: &events)
                }
            }
        }
    }

    /// Checks the first two header bytes and returns the full header length (mask key included).
    private func headerLength(_ b0: UInt8, _ b1: UInt8) throws(WebSocketError) -> Int {
        guard b0 & 0x70 == 0 else { throw .protocolError("reserved bits set without a negotiated extension") }
        guard let opcode = WebSocketOpcode(rawValue: b0 & 0x0F) else {
            throw .protocolError("reserved opcode \(b0 & 0x0F)")
        }
        let fin = b0 & 0x80 != 0
        let length7 = b1 & 0x7F
        if opcode.isControl {
            guard fin else { throw .protocolError("fragmented control frame") }
            guard length7 <= 125 else { throw .protocolError("control frame payload longer than 125 bytes") }
            if opcode == .close && length7 == 1 { throw .protocolError("close frame with a 1-byte payload") }
        } else if opcode == .continuation {
            guard messageOpcode != nil else { throw .protocolError("continuation frame without a message to continue") }
        } else {
            guard messageOpcode == nil else { throw .protocolError("new data frame while a fragmented message is open") }
        }
        guard b1 & 0x80 != 0 else { throw .protocolError("client frame is not masked") }
        switch length7 {
        case 126: return 2 + 2 + 4
        case 127: return 2 + 8 + 4
        default: return 2 + 4
        }
    }

    /// Parses a complete header (its lead bytes already checked by `headerLength`) and applies the size limits.
    private func parseHeader<Bytes: RandomAccessCollection>(_ bytes: Bytes) throws(WebSocketError) -> FrameHeader
    where Bytes.Element == UInt8, Bytes.Index == Int {
        let s = bytes.startIndex
        let b0 = bytes[s]
        let length7 = bytes[s + 1] & 0x7F
        var length: UInt64
        var keyAt = s + 2
        switch length7 {
        case 126:
            length = UInt64(bytes[s + 2]) << 8 | UInt64(bytes[s + 3])
            keyAt = s + 4
        case 127:
            length = 0
            for k in 0..<8 { length = length << 8 | UInt64(bytes[s + 2 + k]) }
            keyAt = s + 10
            // RFC 6455 §5.2: "the most significant bit MUST be 0".
            guard length >> 63 == 0 else { throw .protocolError("64-bit payload length with the high bit set") }
        default:
            length = UInt64(length7)
        }
        guard length <= UInt64(limits.maxFrameSize) else {
            throw .tooBig("frame payload of \(length) bytes exceeds the limit of \(limits.maxFrameSize)")
        }
        let opcode = WebSocketOpcode(rawValue: b0 & 0x0F)!  // validated by headerLength
        let frameLength = Int(length)
        // Subtract, never add: with limits near Int.max, `message.count + frameLength` overflows (issue #13).
        // `message.count <= maxMessageSize` holds because every earlier fragment passed this check.
        if !opcode.isControl && frameLength > limits.maxMessageSize - message.count {
            throw .tooBig("message of more than \(limits.maxMessageSize) bytes")
        }
        let key = WebSocketMasking.keyValue(bytes[keyAt], bytes[keyAt + 1], bytes[keyAt + 2], bytes[keyAt + 3])
        return FrameHeader(fin: b0 & 0x80 != 0, opcode: opcode, length: frameLength, maskKey: key)
    }

    private mutating func begin(_ header: FrameHeader, into events: inout [WebSocketEvent]) throws(WebSocketError) {
        frameOpcode = header.opcode
        frameFin = header.fin
        frameMaskKey = header.maskKey
        frameRemaining = header.length
        frameOffset = 0
        switch header.opcode {
        case .text, .binary:
            messageOpcode = header.opcode
            // Reserve for the first frame only, and not more than 64 KiB up front: a peer announcing a huge frame
            // must send its bytes before it costs us the memory.
            message.reserveCapacity(min(header.length, 1 << 16))
        case .continuation:
            break
        case .close, .ping, .pong:
            control.reserveCapacity(header.length)
        }
        if header.length == 0 {
            try finishFrame(into: &events)
        } else {
            state = .payload
        }
    }

    private mutating func finishFrame(into events: inout [WebSocketEvent]) throws(WebSocketError) {
        state = .header
        switch frameOpcode {
        case .ping:
            events.append(.ping(control))
            control = []
        case .pong:
            events.append(.pong(control))
            control = []
        case .close:
            events.append(try Self.closeEvent(control))
            control = []
            state = .closed
        case .text, .binary, .continuation:
            guard frameFin, let opcode = messageOpcode else { return }
            if opcode == .text {
                guard utf8.isComplete else { throw .invalidUTF8("text message ends inside a UTF-8 sequence") }
                events.append(.text(message))
            } else {
                events.append(.binary(message))
            }
            message = []
            messageOpcode = nil
            utf8 = UTF8Validator()
        }
    }

    /// RFC 6455 §5.5.1: an optional 2-byte status code followed by a UTF-8 reason.
    private static func closeEvent(_ payload: [UInt8]) throws(WebSocketError) -> WebSocketEvent {
        guard payload.count >= 2 else { return .close(code: nil, reason: "") }  // 1 byte was refused in the header
        let code = UInt16(payload[0]) << 8 | UInt16(payload[1])
        guard WebSocketCloseCode.isValidOnWire(code) else { throw .protocolError("invalid close code \(code)") }
        let reason = payload[2...]
        let valid = reason.withUnsafeBytes { UTF8Validator.isValid($0) }
        guard valid else { throw .invalidUTF8("close reason is not valid UTF-8") }
        return .close(code: code, reason: String(decoding: reason, as: UTF8.self))
    }

    /// Appends `chunk` to `buffer` and unmasks the appended bytes in place.
    private static func appendUnmasked(_ chunk: UnsafeRawBufferPointer, to buffer: inout [UInt8], key: UInt32, offset: Int) {
        let start = buffer.count
        buffer.append(contentsOf: chunk)
        buffer.withUnsafeMutableBytes {
            WebSocketMasking.unmask(UnsafeMutableRawBufferPointer(rebasing: $0[start...]), key: key, offset: offset)
        }
    }
}
