/// A decoding failure that must fail the WebSocket connection. `closeCode` is the status to send in our close
/// frame: 1002 for protocol violations, 1007 for invalid UTF-8, 1009 for size limits.
public struct WebSocketError: Error, Sendable, Equatable, CustomStringConvertible {
    public var closeCode: UInt16
    /// Short human-readable cause, suitable for logs and (truncated) for the close frame's reason.
    public var reason: String

    public init(closeCode: UInt16, reason: String) {
        self.closeCode = closeCode
        self.reason = reason
    }

    public var description: String { "WebSocketError(\(closeCode): \(reason))" }

    static func protocolError(_ reason: String) -> WebSocketError {
        WebSocketError(closeCode: WebSocketCloseCode.protocolError, reason: reason)
    }

    static func tooBig(_ reason: String) -> WebSocketError {
        WebSocketError(closeCode: WebSocketCloseCode.messageTooBig, reason: reason)
    }

    static func invalidUTF8(_ reason: String) -> WebSocketError {
        WebSocketError(closeCode: WebSocketCloseCode.invalidPayload, reason: reason)
    }
}
