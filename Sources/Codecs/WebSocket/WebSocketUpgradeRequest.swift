/// The parts of a valid opening handshake the proxy needs to answer it and pick a subprotocol.
public struct WebSocketUpgradeRequest: Sendable, Equatable {
    /// `Sec-WebSocket-Key`, trimmed; input to `WebSocketHandshake.acceptKey(for:)`. Empty over HTTP/2 (RFC 8441 has
    /// no key).
    public var key: String
    /// Every token of every `Sec-WebSocket-Protocol` header, in order, trimmed, empties dropped.
    public var subprotocols: [String]
    /// `Origin`, when the client sent one (browsers always do).
    public var origin: String?

    public init(key: String, subprotocols: [String], origin: String?) {
        self.key = key
        self.subprotocols = subprotocols
        self.origin = origin
    }
}
