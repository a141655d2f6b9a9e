import GRPCWebCodec

/// One request/response on a downstream HTTP/1.1 connection (a gRPC-Web call). The connection feeds it the
/// request body and socket events; it writes its response through the connection and calls
/// `exchangeFinished` when the response is complete.
protocol DownstreamExchange: AnyObject {
    func requestBody(_ bytes: UnsafeRawBufferPointer)
    func requestEnd()
    /// The socket's write queue emptied: bytes written so far have left the proxy.
    func downstreamDrained()
    /// The browser went away (reset, error or EOF mid-request): cancel upstream.
    func downstreamClosed()
    /// The request body cannot be read any further (malformed framing): end the call with this status, upstream
    /// cancelled, and call `exchangeFinished` if a response could be written.
    func requestFailed(_ code: GRPCStatusCode, _ message: String)
    /// Some of the response has been written (status line and headers at least).
    var responseStarted: Bool { get }
}

/// A protocol that took over the socket after an HTTP/1.1 Upgrade (WebSocket).
protocol UpgradedConnectionHandler: AnyObject {
    func didRead(_ bytes: UnsafeRawBufferPointer)
    func didReadEOF()
    func didDrain()
    func didClose()
    /// Graceful drain requested (SIGTERM).
    func drain()
}
