import GRPCWebCodec
import HTTP1Codec
import HTTP2
import WebSocketCodec

/// A WebSocket on an HTTP/2 extended CONNECT stream (RFC 8441): the stream's DATA payloads are the WebSocket byte
/// stream both ways (client frames masked as over HTTP/1.1). The client's END_STREAM is the byte stream's EOF, a
/// reset its abrupt close; our end is END_STREAM after the close frame, RST_STREAM(CANCEL) when there was none.
///
/// It is the stream's exchange (input, drain and close events go to the call) and the call's transport (output
/// and flow control go to the stream: pausing input holds back the stream's window, output waits in the stream's
/// queue within the client's windows, and `didDrain` comes when that queue empties).
final class HTTP2WebSocketTransport: WebSocketTransport, DownstreamExchange {
    private let stream: DownstreamHTTP2Stream
    /// Strong until the call is done with the stream (finish, abort, stream closed); the call holds this transport.
    private var call: WebSocketCall?
    private let head: HTTPRequestHead
    private let connectProtocol: String?

    let worker: WorkerContext
    let listener: ListenerContext

    init(stream: DownstreamHTTP2Stream, head: HTTPRequestHead, connectProtocol: String?) {
        self.stream = stream
        self.head = head
        self.connectProtocol = connectProtocol
        // Kept here: the call and this transport may outlive the connection (the stream's owner) while the upstream
        // finishes; every stream method they use checks that the stream is still open first.
        worker = stream.worker
        listener = stream.connection.listener
    }

    /// Runs the handshake; true when the call was accepted (the stream then feeds this transport).
    func start() -> Bool {
        let call = WebSocketCall(transport: self, head: head)
        guard call.start() != nil else { return false }
        self.call = call
        return true
    }

    // MARK: WebSocketTransport

    func validateHandshake(_ head: HTTPRequestHead) throws(WebSocketHandshakeError) -> WebSocketUpgradeRequest {
        try WebSocketHandshake.validateExtendedConnect(method: head.method, connectProtocol: connectProtocol,
                                                       headers: head.headers.fields.map { ($0.name, $0.value) })
    }

    func acceptHandshake(_ request: WebSocketUpgradeRequest, subprotocol: String) {
        // RFC 8441 §5: a 2xx answers the CONNECT; there is no Sec-WebSocket-Accept over HTTP/2.
        stream.sendResponseHead(status: 200, headers: [("sec-websocket-protocol", subprotocol)], endStream: false)
    }

    func refuseHandshake(status: Int, message: String, extra: [(String, String)]) {
        stream.sendPlainError(status, message, extra: extra, head: head)
    }

    func send(_ bytes: [UInt8]) { bytes.withUnsafeBytes { stream.sendResponseBody($0) } }
    func send(parts: [UnsafeRawBufferPointer]) { for part in parts { stream.sendResponseBody(part) } }
    var hasQueuedOutput: Bool { stream.hasQueuedResponseBytes }

    func pauseInput() { stream.pauseRequestBody() }
    func resumeInput() { stream.resumeRequestBody() }

    func finish() {
        guard release() else { return }
        stream.endResponse(trailers: nil)
        // A client answers our close frame with its own and END_STREAM at once (over HTTP/1.1 we would close the
        // socket); one that does not is reset after a grace.
        stream.endClientSideAfterGrace()
    }

    func abort() {
        guard release() else { return }
        stream.resetStream(errorCode: HTTP2ErrorCode.cancel)
    }

    /// The stream stops feeding this transport: what the client sends after our end is the stream's to drop.
    private func release() -> Bool {
        guard call != nil else { return false }
        call = nil
        stream.exchangeFinished(self)
        return true
    }

    var forwardedClientCertificate: String? { stream.forwardedClientCertificate }
    var downstreamAddress: String { stream.downstreamAddress }
    var downstreamHost: String { stream.downstreamHost }
    var httpVersion: String { "2" }

    // MARK: DownstreamExchange (events from the stream)

    func requestBody(_ bytes: UnsafeRawBufferPointer) { call?.didRead(bytes) }
    func requestEnd() { call?.didReadEOF() }
    func downstreamDrained() { call?.didDrain() }

    func downstreamClosed() {
        // The stream was reset or its connection went away; the stream counted the client's cancel.
        guard let call else { return }
        self.call = nil
        call.streamClosed()
    }

    func requestFailed(_ code: GRPCStatusCode, _ message: String) {
        // HTTP/2 has no body framing of ours to break; a stream error arrives as `downstreamClosed`.
        downstreamClosed()
    }

    var responseStarted: Bool { true }
}
