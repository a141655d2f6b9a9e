/// Where a call writes its response and how it holds back its request body: one HTTP/1.1 connection, or one
/// HTTP/2 stream. The call says what to send (a head, body pieces, an end); the responder owns the framing
/// (chunked encoding or DATA frames), the flow control (the socket's queue or the stream's window) and the
/// connection's lifetime, so `GRPCWebCall` and `NativeGRPCCall` work unchanged over either.
protocol DownstreamResponder: AnyObject {
    var worker: WorkerContext { get }
    /// Sends the response head. `endStream`: nothing follows (a trailers-only answer).
    func sendResponseHead(status: Int, headers: [(String, String)], endStream: Bool)
    /// Sends one piece of the body (written now or queued, never split across calls).
    func sendResponseBody(_ bytes: UnsafeRawBufferPointer)
    /// Ends the body. `trailers` are sent as HTTP/2 trailers (native gRPC); gRPC-Web keeps its trailers in the
    /// body and passes nil.
    func endResponse(trailers: [(String, String)]?)
    /// The call ended inside a message: end the response so the client sees a failure, never a clean end.
    func cutResponse()
    /// True while body bytes this call sent have not been taken by the client's side yet (socket queue or
    /// stream queue); the call then owes the upstream its window until `downstreamDrained`.
    var hasQueuedResponseBytes: Bool { get }
    /// Stop / restart taking request body bytes from the client (upstream window closed / reopened).
    func pauseRequestBody()
    func resumeRequestBody()
    /// The call's response is complete (queued).
    func exchangeFinished(_ exchange: any DownstreamExchange)
    /// The verified client certificate in `x-forwarded-client-cert` form, if any.
    var forwardedClientCertificate: String? { get }
}
