/// Frame opcodes defined by RFC 6455 §5.2. The reserved values (3-7, 0xB-0xF) have no case on purpose: a decoder
/// that meets one fails the connection with 1002, so there is never a value of this type that is not understood.
public enum WebSocketOpcode: UInt8, Sendable {
    case continuation = 0
    case text = 1
    case binary = 2
    case close = 8
    case ping = 9
    case pong = 10

    /// Control frames (close, ping, pong) have the high bit of the opcode set (RFC 6455 §5.5).
    @inlinable
    public var isControl: Bool { rawValue & 0x8 != 0 }
}
