import EventLoop

/// One `grpc.health.v1.Health/Check` call to one endpoint, over the pool's own HTTP/2 connections. Reports
/// exactly one verdict: SERVING, an explicit "not serving" answer, or a failure (no answer, transport error,
/// non-OK gRPC status).
final class HealthProbe: UpstreamStreamDelegate {
    enum Verdict {
        case serving
        /// The server answered and said it is not serving: no reason to wait for more checks.
        case notServing(String)
        /// No usable answer; counts towards `unhealthy_threshold`.
        case failed(String)
    }

    /// A HealthCheckResponse is a few bytes; anything longer is kept only up to here.
    static let maxBody = 1024

    private let loop: EventLoop
    private let timeout: Duration
    private let completion: (Verdict) -> Void
    private var stream: UpstreamStream?
    private var timer: TimerHandle?
    private var body: [UInt8] = []
    private var httpStatus: String?
    private var grpcStatus: String?
    private var grpcMessage = ""
    private(set) var isDone = false

    init(loop: EventLoop, timeout: Duration, completion: @escaping (Verdict) -> Void) {
        self.loop = loop
        self.timeout = timeout
        self.completion = completion
    }

    /// Sends the check. False when the endpoint has no room for another stream right now (no verdict then).
    func start(pool: ClusterPool, endpoint: PoolEndpoint, service: String) -> Bool {
        let ms = max(1, timeout.nanoseconds / 1_000_000)
        let headers: [(String, String)] = [
            (":method", "POST"), (":scheme", "http"), (":path", HealthCheckCodec.path),
            (":authority", endpoint.address.description), ("content-type", "application/grpc"), ("te", "trailers"),
            ("grpc-timeout", "\(min(ms, 99_999_999))m"), ("user-agent", "grpc-web-proxy-health-check"),
        ]
        guard let s = pool.startProbe(on: endpoint, headers: headers, delegate: self) else { return false }
        stream = s
        timer = loop.scheduleTimer(after: timeout) { [weak self] in
            guard let self, !self.isDone else { return }
            self.stream?.cancel()
            self.complete(.failed("no answer within \(self.timeout)"))
        }
        s.sendBody(HealthCheckCodec.requestFrame(service: service))
        s.endBody()
        return true
    }

    /// Abandons the check without a verdict (the endpoint went away).
    func cancel() {
        guard !isDone else { return }
        isDone = true
        loop.cancelTimer(timer)
        stream?.cancel()
    }

    private func complete(_ verdict: Verdict) {
        guard !isDone else { return }
        isDone = true
        loop.cancelTimer(timer)
        stream = nil
        completion(verdict)
    }

    private func take(_ fields: [(String, String)]) {
        for (name, value) in fields {
            switch name {
            case ":status": httpStatus = value
            case "grpc-status": grpcStatus = value
            case "grpc-message": grpcMessage = value
            default: break
            }
        }
    }

    // MARK: UpstreamStreamDelegate

    func upstreamDidReceiveHeaders(_ stream: UpstreamStream, _ headers: [(String, String)], endStream: Bool) {
        take(headers)
    }

    func upstreamDidReceiveData(_ stream: UpstreamStream, _ bytes: UnsafeRawBufferPointer) {
        let room = HealthProbe.maxBody - body.count
        if room > 0 { body.append(contentsOf: bytes.prefix(room)) }
        stream.consume(bytes.count)
    }

    func upstreamDidReceiveTrailers(_ stream: UpstreamStream, _ trailers: [(String, String)]) {
        take(trailers)
    }

    func upstreamDidClose(_ stream: UpstreamStream, failure: UpstreamFailure?) {
        complete(verdict(failure))
    }

    func upstreamRequestBodyDrained(_ stream: UpstreamStream) {}

    private func verdict(_ failure: UpstreamFailure?) -> Verdict {
        switch failure {
        case .reset(let code)?: return .failed("stream reset with HTTP/2 error code \(code)")
        case .connectFailed(let why)?, .connectionLost(let why)?, .overloaded(let why)?, .noEndpoint(let why)?: return .failed(why)
        case .headerListTooLarge(let limit)?: return .failed("response header list over \(limit) bytes")
        case nil: break
        }
        guard httpStatus == "200" else { return .failed("HTTP status \(httpStatus ?? "missing")") }
        guard let grpcStatus else { return .failed("response without grpc-status") }
        guard grpcStatus == "0" else {
            return .failed("grpc-status \(grpcStatus)" + (grpcMessage.isEmpty ? "" : " (\(grpcMessage))"))
        }
        do {
            switch try HealthCheckCodec.servingStatus(body: body) {
            case .serving: return .serving
            case .notServing: return .notServing("NOT_SERVING")
            case .serviceUnknown: return .notServing("SERVICE_UNKNOWN")
            case .unknown: return .notServing("status UNKNOWN")
            }
        } catch {
            return .failed("malformed HealthCheckResponse (\(error))")
        }
    }
}
