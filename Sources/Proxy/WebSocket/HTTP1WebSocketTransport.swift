import HTTP1Codec
import WebSocketCodec

/// A WebSocket on an upgraded HTTP/1.1 connection (RFC 6455): the socket is the byte stream. Input arrives through
/// the connection's `UpgradedConnectionHandler` (the call itself).
final class HTTP1WebSocketTransport: WebSocketTransport {
    /// Weak: the connection owns the call (as its upgraded handler) and the call owns this transport.
    private weak var connection: DownstreamHTTP1Connection?
    let worker: WorkerContext
    let listener: ListenerContext

    init(connection: DownstreamHTTP1Connection) {
        self.connection = connection
        self.worker = connection.worker
        self.listener = connection.listener
    }

    func validateHandshake(_ head: HTTPRequestHead) throws(WebSocketHandshakeError) -> WebSocketUpgradeRequest {
        try WebSocketHandshake.validate(method: head.method, versionMinor: head.versionMinor,
                                        headers: head.headers.fields.map { ($0.name, $0.value) })
    }

    func acceptHandshake(_ request: WebSocketUpgradeRequest, subprotocol: String) {
        connection?.writeResponseBytes(WebSocketHandshake.responseHead(acceptKey: WebSocketHandshake.acceptKey(for: request.key),
                                                                       subprotocol: subprotocol))
    }

    func refuseHandshake(status: Int, message: String, extra: [(String, String)]) {
        connection?.sendPlainError(status, message, extra: extra)
    }

    func send(_ bytes: [UInt8]) { connection?.writeResponseBytes(bytes) }
    func send(parts: [UnsafeRawBufferPointer]) { connection?.writeResponseParts(parts) }
    var hasQueuedOutput: Bool { (connection?.bufferedResponseBytes ?? 0) > 0 }

    func pauseInput() { connection?.pauseReading(DownstreamHTTP1Connection.pausedForUpstream) }
    func resumeInput() { connection?.resumeReading(DownstreamHTTP1Connection.pausedForUpstream) }

    func finish() { connection?.upgradedFinished() }
    func abort() { connection?.close() }

    var forwardedClientCertificate: String? { connection?.forwardedClientCertificate }
    var downstreamAddress: String { connection?.downstreamAddress ?? "" }
    var downstreamHost: String { connection?.downstreamHost ?? "" }
    var httpVersion: String { "1.1" }
}
