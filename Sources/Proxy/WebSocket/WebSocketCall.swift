import HTTP1Codec

/// Placeholder until the grpc-websockets bridge lands: upgrades are refused with 501.
final class WebSocketCall {
    private weak var connection: DownstreamHTTP1Connection?
    init(connection: DownstreamHTTP1Connection, head: HTTPRequestHead) {
        self.connection = connection
    }
    func start() -> (any UpgradedConnectionHandler)? {
        connection?.sendPlainError(501, "WebSocket calls are not available yet")
        return nil
    }
}
