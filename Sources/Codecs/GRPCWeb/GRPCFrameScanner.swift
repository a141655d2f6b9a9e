/// Tracks length-prefixed message boundaries (1 flag byte, 4-byte big-endian length) in a byte stream WITHOUT
/// copying it, so binary bodies can pass through untouched while limits are enforced.
///
/// Payload bytes are skipped in O(1) per call; only the 5 header bytes of each frame are looked at. Policy:
/// - flag 0x00 is always allowed; 0x01 only with `allowCompressed` (the proxy asks upstream for identity and the
///   grpc-web JS parser cannot read compressed frames); 0x80 only with `allowTrailerFrames`; 0x81 only with both;
///   any other bit set is rejected. Flags are checked as soon as the flag byte arrives.
/// - a frame longer than `maxMessageSize` is rejected as soon as its length is known (exactly the limit is fine).
///   Trailer frames are held to the same limit.
/// - the scanner does not forbid frames after a trailer frame; callers that care check `sawTrailerFrame`.
/// After an error every further `scan` rethrows the same error.
public struct GRPCFrameScanner: Sendable {
    private let label: String
    private var header: GRPCFrameHeaderReader
    private var inPayload = false
    private var frameFlags: UInt8 = 0
    private var payloadRemaining = 0
    private var failure: GRPCFrameError?

    /// Completed data frames (trailer frames are not counted; see `sawTrailerFrame`).
    public private(set) var messageCount = 0
    /// True once a complete 0x80 frame has been seen.
    public private(set) var sawTrailerFrame = false

    /// - Parameter label: names the direction in error messages ("request message of N bytes exceeds ...").
    public init(maxMessageSize: Int, allowTrailerFrames: Bool = false, allowCompressed: Bool = false,
                label: String = "request") {
        var allowed: UInt8 = 0
        if allowCompressed { allowed |= GRPCFraming.compressedFlag }
        if allowTrailerFrames { allowed |= GRPCFraming.trailerFlag }
        self.label = label
        header = GRPCFrameHeaderReader(allowedFlags: allowed, maxMessageSize: maxMessageSize, label: label)
    }

    /// False at end of stream means the last frame was truncated.
    public var isAtMessageBoundary: Bool { !inPayload && header.bytesSeen == 0 }

    /// Call at end of stream: throws `.truncated` if the stream stopped inside a frame.
    public func finish() throws(GRPCFrameError) {
        if let failure { throw failure }
        if !isAtMessageBoundary { throw GRPCFrameError.truncated(label: label) }
    }

    public mutating func scan(_ bytes: UnsafeRawBufferPointer) throws(GRPCFrameError) {
        if let failure { throw failure }
        let n = bytes.count
        var i = 0
        while i < n {
            if inPayload {
                // Inside a payload: skip as much of it as this chunk holds.
                let take = min(payloadRemaining, n - i)
                i += take
                payloadRemaining -= take
                if payloadRemaining == 0 { completeFrame() }
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
            payloadRemaining = h.size
            inPayload = true
            if h.size == 0 { completeFrame() }
        }
    }

    private mutating func completeFrame() {
        if frameFlags & GRPCFraming.trailerFlag != 0 { sawTrailerFrame = true } else { messageCount += 1 }
        inPayload = false
    }
}
