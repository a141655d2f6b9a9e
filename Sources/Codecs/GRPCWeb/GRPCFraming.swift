/// Writing the 5-byte length prefix shared by native gRPC and gRPC-Web (PROTOCOLS.md §1.2).
public enum GRPCFraming {
    public static let headerSize = 5
    public static let compressedFlag: UInt8 = 0x01
    public static let trailerFlag: UInt8 = 0x80
    /// Largest length the 32-bit prefix can express.
    public static let maxLength = Int(UInt32.max)

    /// Appends flag byte + 4-byte big-endian `length` (5 bytes). `length` must fit in 32 bits: anything larger is
    /// a programming error, since every caller enforces a far smaller message limit first.
    public static func writeHeader(flags: UInt8, length: Int, into out: inout [UInt8]) {
        precondition(length >= 0 && length <= maxLength, "gRPC frame length out of range")
        let l = UInt32(truncatingIfNeeded: length)
        out.append(flags)
        out.append(UInt8(truncatingIfNeeded: l >> 24))
        out.append(UInt8(truncatingIfNeeded: l >> 16))
        out.append(UInt8(truncatingIfNeeded: l >> 8))
        out.append(UInt8(truncatingIfNeeded: l))
    }

    /// A whole frame: header followed by `payload`.
    public static func frame(flags: UInt8 = 0, _ payload: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(headerSize + payload.count)
        writeHeader(flags: flags, length: payload.count, into: &out)
        out.append(contentsOf: payload)
        return out
    }
}
