import GRPCWebCodec
import HTTP1Codec

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
    /// For the call's summary: the client's `host:port` (asked of the socket once per connection), the HTTP
    /// version it speaks ("1.1", "1.0", "2") and the listener's name.
    var downstreamAddress: String { get }
    /// `downstreamAddress` without the port, computed once per connection.
    var downstreamHost: String { get }
    var httpVersion: String { get }
    var listenerName: String { get }
    /// The client reached us over TLS (`x-forwarded-proto: https`).
    var isSecure: Bool { get }
}

extension DownstreamResponder {
    /// A call's summary as it starts on this responder.
    func startSummary(_ head: HTTPRequestHead, transport: CallSummary.Transport) -> CallSummary {
        CallSummary(listener: listenerName, path: head.path, transport: transport, httpVersion: httpVersion,
                    downstreamAddress: downstreamAddress, userAgent: nil)
    }
}

extension DownstreamResponder {
    /// A call the proxy answered itself with a gRPC status (no route, no cluster, overload) is a call all the
    /// same: it gets its summary (without a route or cluster).
    func reportLocalReply(_ head: HTTPRequestHead, transport: CallSummary.Transport, _ code: GRPCStatusCode, _ message: String) {
        var summary = startSummary(head, transport: transport)
        _ = summary.identify(head.headers, random: &worker.idRandom)
        summary.end(status: code.rawValue, encodedMessage: nil)
        summary.grpcMessage = CallSummary.truncated(message, maxBytes: CallSummary.maxMessageBytes)
        worker.callFinished(summary)
    }
}
