import HTTP1Codec
import WebSocketCodec

/// What a grpc-websockets call needs from what carries it: an upgraded HTTP/1.1 connection (RFC 6455) or an
/// HTTP/2 extended CONNECT stream (RFC 8441). The call speaks WebSocket frames either way; the transport owns the
/// handshake's form, where the bytes go, how input is held back and how the byte stream ends.
protocol WebSocketTransport: AnyObject {
    var worker: WorkerContext { get }
    var listener: ListenerContext { get }

    /// The transport's part of the opening handshake (method, version and key checks).
    func validateHandshake(_ head: HTTPRequestHead) throws(WebSocketHandshakeError) -> WebSocketUpgradeRequest
    /// Accepts the call: 101 with Sec-WebSocket-Accept (HTTP/1.1), `:status 200` (HTTP/2, no accept key).
    func acceptHandshake(_ request: WebSocketUpgradeRequest, subprotocol: String)
    /// Refuses it with a plain HTTP error (the HTTP/1.1 connection then closes; the HTTP/2 stream ends).
    func refuseHandshake(status: Int, message: String, extra: [(String, String)])

    /// Queues bytes of the WebSocket byte stream toward the client.
    func send(_ bytes: [UInt8])
    /// Queues several pieces, in order (a frame header and its payload, uncopied where possible).
    func send(parts: [UnsafeRawBufferPointer])
    /// Bytes sent have not been taken by the client's side yet; the call hears `didDrain` when they have.
    var hasQueuedOutput: Bool { get }

    /// Stop / restart taking input from the client (the upstream's window is closed / open again).
    func pauseInput()
    func resumeInput()

    /// The close frame has been queued: end the byte stream once it is written (close the socket / END_STREAM).
    func finish()
    /// The call is over without a WebSocket close (client gone, error below WebSocket): close the socket at once
    /// / RST_STREAM(CANCEL).
    func abort()

    /// The verified client certificate in `x-forwarded-client-cert` form, if any.
    var forwardedClientCertificate: String? { get }
    /// For the call's summary: the client's `host:port` and the HTTP version ("1.1", "2").
    var downstreamAddress: String { get }
    /// `downstreamAddress` without the port, computed once per connection.
    var downstreamHost: String { get }
    var httpVersion: String { get }
}
