/// Why an upgrade request was refused, as the HTTP status to answer with: 400 malformed request, 405 not GET,
/// 426 unsupported `Sec-WebSocket-Version` (the response must then carry `Sec-WebSocket-Version: 13`, §4.4).
public struct WebSocketHandshakeError: Error, Sendable, Equatable, CustomStringConvertible {
    public var status: Int
    public var reason: String

    public init(status: Int, reason: String) {
        self.status = status
        self.reason = reason
    }

    public var description: String { "WebSocketHandshakeError(\(status): \(reason))" }
}
