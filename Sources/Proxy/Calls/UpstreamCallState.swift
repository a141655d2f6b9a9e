import Config
import EventLoop
import GRPCWebCodec
import Upstream

/// What every call that drives an upstream stream keeps (gRPC-Web and native gRPC alike): its deadline, the
/// accounting of its end, the upstream window it owes until the client's side has taken the bytes, and an
/// upstream answer that is not gRPC, turned into a status. The calls own the writing; this owns the bookkeeping.
struct UpstreamCallState {
    /// The worker outlives its calls.
    unowned(unsafe) let worker: WorkerContext
    let stats: ProxyStats
    let loop: EventLoop
    /// What the operator sees of the call; handed to `worker.callFinished` when it ends. The call adds its byte
    /// counts as they pass and its message counts and endpoint (`noteEnd`) just before it ends.
    var summary: CallSummary
    private(set) var finished = false
    private var deadlineTimer: TimerHandle?
    private(set) var deadlineNanos: Int64?
    /// Upstream bytes sent downstream but not yet taken by the client's side: consumed when it drains.
    private var owedWindow = 0
    /// A non-gRPC upstream answer: its HTTP status, and the start of its body for grpc-message.
    private(set) var nonGRPCStatus: Int?
    private var nonGRPCBody: [UInt8] = []
    /// What the edge rules granted the call (header edits, a concurrency slot): released when it ends.
    var edge = EdgeCallGrant()

    init(worker: WorkerContext, summary: CallSummary) {
        self.worker = worker
        self.stats = worker.stats
        self.loop = worker.loop
        self.summary = summary
    }

    /// Notes the route and resolves the request's ids; returns them to be added to the upstream headers.
    mutating func identify(route: RouteConfig, _ headers: some Sequence<(name: String, value: String)>) -> RequestIdentity {
        summary.routed(route.name, cluster: route.cluster)
        worker.metrics.started(&summary)
        return summary.identify(headers, random: &worker.idRandom)
    }

    /// Runs the edge rules (JWT, rate limits, header rules) for a call about to start upstream: keeps the grant,
    /// or returns why the call is refused.
    mutating func admitAtEdge(_ request: EdgeCallRequest) -> EdgeRejection? {
        worker.edge.admit(request, grant: &edge)
    }

    /// The call's last counts, just before it ends.
    mutating func noteEnd(requestMessages: Int, responseMessages: Int, stream: UpstreamStream?) {
        summary.requestMessages = requestMessages
        summary.responseMessages = responseMessages
        if let endpoint = stream?.endpointAddress { summary.endpoint = endpoint }
    }

    /// The call starts: counted in flight, and the shorter of the client's `grpc-timeout` and the route's
    /// timeout armed (`onExpiry` fires it). Returns the deadline to forward upstream, if any.
    mutating func start(grpcTimeout: String?, route: RouteConfig, onExpiry: @escaping () -> Void) -> Int64? {
        stats.callsActive.add(1)
        var deadline: Int64? = grpcTimeout.flatMap(GRPCTimeout.parse)
        let routeTimeout = route.timeout.nanoseconds
        if routeTimeout > 0 { deadline = min(deadline ?? Int64.max, routeTimeout) }
        deadlineNanos = deadline
        if let deadline {
            // The callback holds the call strongly; the timer is always cancelled when the call ends.
            deadlineTimer = loop.scheduleTimer(afterNanos: UInt64(max(0, deadline)), onExpiry)
        }
        return deadline
    }

    /// The deadline fired: the message to end the call with, or nil if it already ended.
    mutating func deadlineExpired() -> String? {
        deadlineTimer = nil
        guard !finished else { return nil }
        stats.deadlineExceededTotal.add(1)
        return "deadline of \((deadlineNanos ?? 0) / 1_000_000) ms exceeded"
    }

    /// Marks the call ended with the status of its final `fields`; false if it had ended already.
    mutating func end(fields: [(String, String)]) -> Bool {
        guard !finished else { return false }
        summary.end(fields: fields)
        return ended()
    }

    private mutating func ended() -> Bool {
        finished = true
        edge.finish()
        loop.cancelTimer(deadlineTimer)
        deadlineTimer = nil
        stats.callsActive.subtract(1)
        stats.recordStatus(summary.grpcStatus)
        worker.callFinished(summary)
        return true
    }

    /// The client went away: the call ends as CANCELLED, the upstream stream is reset (RST_STREAM CANCEL) at once
    /// and the window it was owed goes back. False if the call had ended already.
    mutating func clientLeft(_ stream: UpstreamStream?) -> Bool {
        guard !finished else { return false }
        summary.end(status: GRPCStatusCode.cancelled.rawValue, encodedMessage: CallSummary.clientCancelledMessage)
        _ = ended()
        stream?.cancel()
        returnOwedWindow(stream)
        return true
    }

    // MARK: Upstream window

    /// `n` bytes went downstream: give the upstream window back now if the client's side took them, else later.
    mutating func forwarded(_ n: Int, queued: Bool, on stream: UpstreamStream) {
        if queued { owedWindow += n } else { stream.consume(n) }
    }

    mutating func returnOwedWindow(_ stream: UpstreamStream?) {
        guard owedWindow > 0, let stream else { return }
        let n = owedWindow
        owedWindow = 0
        stream.consume(n)
    }

    // MARK: Answers that are not gRPC

    /// Upstream response headers: true (and noted) when the answer is not gRPC (an HTML error page, a 503 from a
    /// load balancer...).
    mutating func noteIfNotGRPC(_ headers: [(String, String)]) -> Bool {
        guard !GRPCHeaderTranslation.isGRPCResponse(headers) else { return false }
        nonGRPCStatus = Int(headers.first { $0.0 == ":status" }?.1 ?? "") ?? 0
        return true
    }

    /// Keeps the start of a non-gRPC body for the message; the window goes back at once.
    mutating func captureNonGRPCBody(_ bytes: UnsafeRawBufferPointer, from stream: UpstreamStream) {
        let limit = UpstreamFailureStatus.nonGRPCBodyLimit
        if nonGRPCBody.count < limit { nonGRPCBody.append(contentsOf: bytes.prefix(limit - nonGRPCBody.count)) }
        stream.consume(bytes.count)
    }

    /// The status a non-gRPC answer maps to (counted as an upstream failure).
    func nonGRPCOutcome() -> (GRPCStatusCode, String) {
        stats.upstreamFailuresTotal.add(1)
        return UpstreamFailureStatus.status(forHTTPStatus: nonGRPCStatus ?? 0, body: nonGRPCBody)
    }

    /// The upstream stream closed before the call ended: the status to end it with, and whether that status came
    /// from a non-gRPC answer (then the stream is over and needs no cancel).
    func closeOutcome(_ failure: UpstreamFailure?, responseStarted: Bool) -> (GRPCStatusCode, String, nonGRPC: Bool) {
        if let failure {
            stats.upstreamFailuresTotal.add(1)
            let (code, message) = UpstreamFailureStatus.status(for: failure)
            return (code, message, false)
        }
        if nonGRPCStatus != nil {
            let (code, message) = nonGRPCOutcome()
            return (code, message, true)
        }
        return (.internalError, responseStarted ? "upstream ended the stream without trailers"
                                                : "upstream closed the stream without a gRPC response", false)
    }
}
