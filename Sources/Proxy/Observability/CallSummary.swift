/// What one finished call looks like to the operator: one access-log line, one set of metric increments.
/// Filled by the call (gRPC-Web, native gRPC, WebSocket) as it runs and handed to `WorkerContext.callFinished`
/// once, when it ends. Plain values only, so building it costs no allocation beyond its strings.
struct CallSummary {
    enum Transport: String {
        case grpcWeb = "grpc-web"
        case grpcWebText = "grpc-web-text"
        case websocket
        case grpc
    }

    /// Wall-clock start (Unix nanoseconds) and duration (monotonic nanoseconds).
    var startUnixNanos: Int64 = 0
    var durationNanos: UInt64 = 0
    var listener: String = ""
    /// The route's name (its `name:`, or its match, e.g. `service:pkg.Svc`); empty when no route matched.
    var route: String = ""
    var cluster: String = ""
    /// The upstream endpoint the call went to ("" when it never reached one).
    var endpoint: String = ""
    var path: String = ""
    var transport: Transport = .grpcWeb
    /// "1.1" or "2".
    var httpVersion: String = "1.1"
    var grpcStatus: Int = 2
    var grpcMessage: String = ""
    var requestBytes: Int = 0
    var responseBytes: Int = 0
    var requestMessages: Int = 0
    var responseMessages: Int = 0
    var downstreamAddress: String = ""
    var userAgent: String = ""
    var requestID: String = ""
    var traceID: String = ""
}
