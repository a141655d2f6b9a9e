/// One length-prefixed message (or trailer block) with its payload copied out of the stream.
public struct GRPCFrame: Sendable, Equatable {
    /// Bit 0 (0x01): payload compressed. Bit 7 (0x80): gRPC-Web trailer frame.
    public var flags: UInt8
    public var payload: [UInt8]

    public init(flags: UInt8 = 0, payload: [UInt8]) {
        self.flags = flags
        self.payload = payload
    }

    public var isTrailer: Bool { flags & GRPCFraming.trailerFlag != 0 }
    public var isCompressed: Bool { flags & GRPCFraming.compressedFlag != 0 }
}
