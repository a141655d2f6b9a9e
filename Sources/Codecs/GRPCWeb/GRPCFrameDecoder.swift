/// Full frame decoder: splits a length-prefixed stream into frames, copying each payload. For tests, health
/// checks and the WebSocket side, where messages must be handled individually rather than passed through.
///
/// Accepts flags 0x00, 0x01, 0x80 and 0x81 (the caller decides what compressed or trailer frames mean for it);
/// any other bit set is `.unsupportedFlags`. Frames longer than `maxMessageSize` are rejected as soon as their
/// header is complete, before any payload is buffered. After an error every further call rethrows it.
public struct GRPCFrameDecoder: Sendable {
    /// Initial buffer reservation for a partial payload. A header may announce up to the limit while sending
    /// nothing, so memory grows with bytes actually received, not with the announced length.
    private static let initialReservation = 64 * 1024

    private let maxMessageSize: Int
    private let label: String
    /// 0 = at a frame boundary; 1...4 = that many header bytes seen; 5 = inside the payload.
    private var headerBytes = 0
    private var flags: UInt8 = 0
    private var length: UInt32 = 0
    private var payload: [UInt8] = []
    private var payloadRemaining = 0
    private var failure: GRPCFrameError?

    public init(maxMessageSize: Int, label: String = "request") {
        precondition(maxMessageSize >= 0, "negative message limit")
        self.maxMessageSize = maxMessageSize
        self.label = label
    }

    /// False at end of stream means the last frame was truncated.
    public var isAtMessageBoundary: Bool { headerBytes == 0 }

    /// Call at end of stream: throws `.truncated` if the stream stopped inside a frame.
    public func finish() throws(GRPCFrameError) {
        if let failure { throw failure }
        if headerBytes != 0 { throw GRPCFrameError.truncated(label: label) }
    }

    /// Appends every frame completed by `bytes` to `frames`. Frames completed before an error are still appended.
    public mutating func decode(_ bytes: UnsafeRawBufferPointer, into frames: inout [GRPCFrame]) throws(GRPCFrameError) {
        if let failure { throw failure }
        let n = bytes.count
        var i = 0
        while i < n {
            if headerBytes == 5 {
                let take = min(payloadRemaining, n - i)
                payload.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[i..<(i + take)]))
                i += take
                payloadRemaining -= take
                if payloadRemaining == 0 { emit(into: &frames) }
                continue
            }
            if headerBytes == 0 && n - i >= 5 {
                flags = bytes[i]
                try checkFlags()
                length = UInt32(bytes[i + 1]) << 24 | UInt32(bytes[i + 2]) << 16
                    | UInt32(bytes[i + 3]) << 8 | UInt32(bytes[i + 4])
                i += 5
                let size = try checkedSize()
                if n - i >= size {
                    // Whole payload present: copy it in one go, no intermediate buffer.
                    frames.append(GRPCFrame(flags: flags, payload: Array(UnsafeRawBufferPointer(rebasing: bytes[i..<(i + size)]))))
                    i += size
                    continue
                }
                startPayload(size, into: &frames)
                continue
            }
            let b = bytes[i]
            i += 1
            if headerBytes == 0 {
                flags = b
                length = 0
                try checkFlags()
            } else {
                length = length << 8 | UInt32(b)
            }
            headerBytes += 1
            if headerBytes == 5 { startPayload(try checkedSize(), into: &frames) }
        }
    }

    private mutating func startPayload(_ size: Int, into frames: inout [GRPCFrame]) {
        headerBytes = 5
        payloadRemaining = size
        payload = []
        if size == 0 {
            emit(into: &frames)
        } else {
            payload.reserveCapacity(min(size, Self.initialReservation))
        }
    }

    private mutating func emit(into frames: inout [GRPCFrame]) {
        frames.append(GRPCFrame(flags: flags, payload: payload))
        payload = []
        headerBytes = 0
    }

    private mutating func checkFlags() throws(GRPCFrameError) {
        if flags & ~(GRPCFraming.compressedFlag | GRPCFraming.trailerFlag) != 0 {
            let e = GRPCFrameError.unsupportedFlags(flags, label: label)
            failure = e
            throw e
        }
    }

    private mutating func checkedSize() throws(GRPCFrameError) -> Int {
        let size = Int(length)
        if size > maxMessageSize {
            let e = GRPCFrameError.messageTooLarge(size: size, limit: maxMessageSize, label: label)
            failure = e
            throw e
        }
        return size
    }
}
