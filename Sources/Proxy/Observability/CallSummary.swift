/// What one finished call looks like to the operator: one access-log line, one set of metric increments.
/// Filled by the call (gRPC-Web, native gRPC, WebSocket) as it runs and handed to `WorkerContext.callFinished`
/// once, when it ends. Plain values only, so building it costs no allocation beyond its strings.
public struct CallSummary: Sendable {
    public enum Transport: String, Sendable {
        case grpcWeb = "grpc-web"
        case grpcWebText = "grpc-web-text"
        case websocket
        case grpc
    }

    /// Wall-clock start (Unix nanoseconds) and duration (monotonic nanoseconds).
    public var startUnixNanos: Int64 = 0
    public var durationNanos: UInt64 = 0
    public var listener: String = ""
    /// The route's name (its `name:`, or its match, e.g. `service:pkg.Svc`); empty when no route matched.
    public var route: String = ""
    public var cluster: String = ""
    /// Counted in `grpcwebproxy_calls_in_flight` since it was routed (`MetricsRecorder.started`); the end takes it off.
    var inFlight = false
    /// The upstream endpoint the call went to ("" when it never reached one).
    public var endpoint: String = ""
    public var path: String = ""
    public var transport: Transport = .grpcWeb
    /// "1.1" or "2".
    public var httpVersion: String = "1.1"
    public var grpcStatus: Int = 2
    public var grpcMessage: String = ""
    public var requestBytes: Int = 0
    public var responseBytes: Int = 0
    public var requestMessages: Int = 0
    public var responseMessages: Int = 0
    public var downstreamAddress: String = ""
    public var userAgent: String = ""
    public var requestID: String = ""
    public var traceID: String = ""
    /// Monotonic start, for the duration.
    var startMonotonicNanos: UInt64 = 0

    public init() {}
}
