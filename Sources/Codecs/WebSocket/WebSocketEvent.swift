/// What the decoder produces: whole messages and control frames, in wire order.
public enum WebSocketEvent: Sendable, Equatable {
    /// A complete (reassembled) binary message.
    case binary([UInt8])
    /// A complete text message; its bytes have been checked to be UTF-8.
    case text([UInt8])
    case ping([UInt8])
    case pong([UInt8])
    /// A close frame. `code` is nil when the frame had no payload (RFC 6455 §7.1.5: "no status code received").
    case close(code: UInt16?, reason: String)
}
