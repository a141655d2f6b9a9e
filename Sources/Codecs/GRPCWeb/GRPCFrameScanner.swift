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
    private let maxMessageSize: Int
    private let allowTrailerFrames: Bool
    private let allowCompressed: Bool
    private let label: String

    /// 0 = at a frame boundary; 1...4 = that many header bytes seen; 5 = inside the payload.
    private var headerBytes = 0
    private var flags: UInt8 = 0
    private var length: UInt32 = 0
    private var payloadRemaining = 0
    private var failure: GRPCFrameError?

    /// Completed data frames (trailer frames are not counted; see `sawTrailerFrame`).
    public private(set) var messageCount = 0
    /// True once a complete 0x80 frame has been seen.
    public private(set) var sawTrailerFrame = false

    /// - Parameter label: names the direction in error messages ("request message of N bytes exceeds ...").
    public init(maxMessageSize: Int, allowTrailerFrames: Bool = false, allowCompressed: Bool = false,
                label: String = "request") {
        precondition(maxMessageSize >= 0, "negative message limit")
        self.maxMessageSize = maxMessageSize
        self.allowTrailerFrames = allowTrailerFrames
        self.allowCompressed = allowCompressed
        self.label = label
    }

    /// False at end of stream means the last frame was truncated.
    public var isAtMessageBoundary: Bool { headerBytes == 0 }

    /// Call at end of stream: throws `.truncated` if the stream stopped inside a frame.
    public func finish() throws(GRPCFrameError) {
        if let failure { throw failure }
        if headerBytes != 0 { throw GRPCFrameError.truncated(label: label) }
    }

    public mutating func scan(_ bytes: UnsafeRawBufferPointer) throws(GRPCFrameError) {
        if let failure { throw failure }
        let n = bytes.count
        var i = 0
        while i < n {
            if headerBytes == 5 {
                // Inside a payload: skip as much of it as this chunk holds.
                let take = min(payloadRemaining, n - i)
                i += take
                payloadRemaining -= take
                if payloadRemaining == 0 { completeFrame() }
                continue
            }
            if headerBytes == 0 && n - i >= 5 {
                // Whole header in this chunk: the common case when frames are small and arrive intact.
                flags = bytes[i]
                try checkFlags()
                length = UInt32(bytes[i + 1]) << 24 | UInt32(bytes[i + 2]) << 16
                    | UInt32(bytes[i + 3]) << 8 | UInt32(bytes[i + 4])
                i += 5
                headerBytes = 5
                try headerComplete()
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
            if headerBytes == 5 { try headerComplete() }
        }
    }

    private mutating func checkFlags() throws(GRPCFrameError) {
        var allowed: UInt8 = 0
        if allowCompressed { allowed |= GRPCFraming.compressedFlag }
        if allowTrailerFrames { allowed |= GRPCFraming.trailerFlag }
        if flags & ~allowed != 0 { try fail(.unsupportedFlags(flags, label: label)) }
    }

    private mutating func headerComplete() throws(GRPCFrameError) {
        let size = Int(length)
        if size > maxMessageSize { try fail(.messageTooLarge(size: size, limit: maxMessageSize, label: label)) }
        payloadRemaining = size
        if size == 0 { completeFrame() }
    }

    private mutating func completeFrame() {
        if flags & GRPCFraming.trailerFlag != 0 { sawTrailerFrame = true } else { messageCount += 1 }
        headerBytes = 0
    }

    private mutating func fail(_ e: GRPCFrameError) throws(GRPCFrameError) {
        failure = e
        throw e
    }
}
