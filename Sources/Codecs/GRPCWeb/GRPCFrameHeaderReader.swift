/// The 5-byte header of a length-prefixed gRPC frame (flags, 4-byte big-endian length), read incrementally
/// because it may be split across reads. The flag and size policy is checked as soon as each is known, so the
/// scanner and the decoder share one state machine and one policy.
struct GRPCFrameHeaderReader: Sendable {
    struct Header {
        var flags: UInt8
        var size: Int
    }

    private let allowedFlags: UInt8
    private let maxMessageSize: Int
    private let label: String
    /// Header bytes seen so far (0...4); 0 between frames.
    private(set) var bytesSeen = 0
    private var flags: UInt8 = 0
    private var length: UInt32 = 0

    init(allowedFlags: UInt8, maxMessageSize: Int, label: String) {
        precondition(maxMessageSize >= 0, "negative message limit")
        self.allowedFlags = allowedFlags
        self.maxMessageSize = maxMessageSize
        self.label = label
    }

    /// Reads header bytes from `bytes[i...]`, advancing `i`. Returns the header once its fifth byte is read;
    /// nil when `bytes` ran out first (the partial header is kept for the next call).
    mutating func read(_ bytes: UnsafeRawBufferPointer, at i: inout Int) throws(GRPCFrameError) -> Header? {
        let n = bytes.count
        if bytesSeen == 0 && n - i >= 5 {
            // Whole header in this read: the common case when frames are small and arrive intact.
            flags = bytes[i]
            try checkFlags()
            length = UInt32(bytes[i + 1]) << 24 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 8 | UInt32(bytes[i + 4])
            i += 5
            return Header(flags: flags, size: try checkedSize())
        }
        while i < n {
            let b = bytes[i]
            i += 1
            if bytesSeen == 0 {
                flags = b
                length = 0
                try checkFlags()
            } else {
                length = length << 8 | UInt32(b)
            }
            bytesSeen += 1
            if bytesSeen == 5 {
                bytesSeen = 0
                return Header(flags: flags, size: try checkedSize())
            }
        }
        return nil
    }

    private func checkFlags() throws(GRPCFrameError) {
        if flags & ~allowedFlags != 0 { throw GRPCFrameError.unsupportedFlags(flags, label: label) }
    }

    private func checkedSize() throws(GRPCFrameError) -> Int {
        let size = Int(length)
        if size > maxMessageSize { throw GRPCFrameError.messageTooLarge(size: size, limit: maxMessageSize, label: label) }
        return size
    }
}
