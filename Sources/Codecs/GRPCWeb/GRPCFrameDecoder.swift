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

    private let label: String
    private var header: GRPCFrameHeaderReader
    private var inPayload = false
    private var frameFlags: UInt8 = 0
    private var payload: [UInt8] = []
    private var payloadRemaining = 0
    private var failure: GRPCFrameError?

    public init(maxMessageSize: Int, label: String = "request") {
        self.label = label
        header = GRPCFrameHeaderReader(allowedFlags: GRPCFraming.compressedFlag | GRPCFraming.trailerFlag,
                                       maxMessageSize: maxMessageSize, label: label)
    }

    /// False at end of stream means the last frame was truncated.
    public var isAtMessageBoundary: Bool { !inPayload && header.bytesSeen == 0 }

    /// Call at end of stream: throws `.truncated` if the stream stopped inside a frame.
    public func finish() throws(GRPCFrameError) {
        if let failure { throw failure }
        if !isAtMessageBoundary { throw GRPCFrameError.truncated(label: label) }
    }

    /// Appends every frame completed by `bytes` to `frames`. Frames completed before an error are still appended.
    public mutating func decode(_ bytes: UnsafeRawBufferPointer, into frames: inout [GRPCFrame]) throws(GRPCFrameError) {
        if let failure { throw failure }
        let n = bytes.count
        var i = 0
        while i < n {
            if inPayload {
                let take = min(payloadRemaining, n - i)
                payload.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[i..<(i + take)]))
                i += take
                payloadRemaining -= take
                if payloadRemaining == 0 { emit(into: &frames) }
                continue
            }
            let h: GRPCFrameHeaderReader.Header?
            do {
                h = try header.read(bytes, at: &i)
            } catch {
                failure = error
                throw error
            }
            guard let h else { return }
            frameFlags = h.flags
            if n - i >= h.size {
                // Whole payload present: copy it in one go, no intermediate buffer.
                frames.append(GRPCFrame(flags: h.flags, payload: Array(UnsafeRawBufferPointer(rebasing: bytes[i..<(i + h.size)]))))
                i += h.size
                continue
            }
            inPayload = true
            payloadRemaining = h.size
            payload = []
            payload.reserveCapacity(min(h.size, Self.initialReservation))
        }
    }

    private mutating func emit(into frames: inout [GRPCFrame]) {
        frames.append(GRPCFrame(flags: frameFlags, payload: payload))
        payload = []
        inPayload = false
    }
}
