import Config
import EventLoop
import GRPCWebCodec
import HTTP1Codec
import Upstream

/// One native gRPC call from an HTTP/2 client (Go, Java, grpcurl, grpcio...) passed through to the cluster: the
/// same routes, deadlines, retries, balancing and health as gRPC-Web calls, but headers, messages and trailers
/// go through unchanged (hop-by-hop fields aside). Messages are only scanned for the size limits.
final class NativeGRPCCall: DownstreamExchange, UpstreamStreamDelegate {
    /// Strong (no weak side table); the responder drops its reference when the exchange finishes.
    private var responder: (any DownstreamResponder)?
    private let head: HTTPRequestHead
    private let route: RouteConfig
    private let pool: ClusterPool
    private let stats: ProxyStats
    private let loop: EventLoop
    private let requestBufferLimit: Int
    private var requestScanner: GRPCFrameScanner
    private var responseScanner: GRPCFrameScanner
    private var stream: UpstreamStream?
    private(set) var responseStarted = false
    private var finished = false
    private var deadlineTimer: TimerHandle?
    private var deadlineNanos: Int64?
    /// Upstream bytes sent downstream but not yet taken by the client's side: consumed when it drains.
    private var pendingConsume = 0
    private var nonGRPCStatus: Int?
    private var nonGRPCBody: [UInt8] = []

    init(responder: any DownstreamResponder, head: HTTPRequestHead, route: RouteConfig, pool: ClusterPool) {
        self.responder = responder
        self.head = head
        self.route = route
        self.pool = pool
        stats = responder.worker.stats
        loop = responder.worker.loop
        let limits = responder.worker.config.limits
        requestBufferLimit = limits.writeBufferLimit
        // Compressed messages pass: native clients negotiate compression with the server themselves.
        requestScanner = GRPCFrameScanner(maxMessageSize: route.maxRequestBytes ?? limits.maxMessageSize,
                                          allowCompressed: true, label: "request")
        responseScanner = GRPCFrameScanner(maxMessageSize: limits.maxMessageSize, allowCompressed: true, label: "response")
    }

    func start() {
        stats.callsActive.add(1)
        // The shorter of the client's grpc-timeout and the route's timeout is enforced here and forwarded.
        var deadline: Int64? = head.headers["grpc-timeout"].flatMap(GRPCTimeout.parse)
        let routeTimeout = route.timeout.nanoseconds
        if routeTimeout > 0 { deadline = min(deadline ?? Int64.max, routeTimeout) }
        deadlineNanos = deadline
        if let deadline {
            // Strong capture: the timer is always cancelled when the call ends.
            deadlineTimer = loop.scheduleTimer(afterNanos: UInt64(max(0, deadline))) { [self] in deadlineExpired() }
        }
        let headers = GRPCHeaderTranslation.upstreamRequestHeaders(
            path: head.target, authority: head.headers["host"] ?? route.cluster, contentType: head.headers["content-type"],
            metadata: head.headers, timeoutNanos: deadline, forwardedClientCert: responder?.forwardedClientCertificate,
            native: true)
        stream = pool.startStream(headers: headers, delegate: self)
    }

    // MARK: Request (client -> upstream)

    func requestBody(_ bytes: UnsafeRawBufferPointer) {
        guard !finished, let stream else { return }
        do {
            try requestScanner.scan(bytes)
        } catch {
            fail(error.status, error.message)
            return
        }
        stream.sendBody(bytes)
        if stream.bufferedRequestBytes > requestBufferLimit { responder?.pauseRequestBody() }
    }

    func requestEnd() {
        guard !finished, let stream else { return }
        do { try requestScanner.finish() } catch {
            fail(error.status, error.message)
            return
        }
        stream.endBody()
    }

    func upstreamRequestBodyDrained(_ stream: UpstreamStream) {
        responder?.resumeRequestBody()
    }

    // MARK: Response (upstream -> client)

    func upstreamDidReceiveHeaders(_ stream: UpstreamStream, _ headers: [(String, String)], endStream: Bool) {
        guard !finished else { return }
        if !GRPCHeaderTranslation.isGRPCResponse(headers) {
            nonGRPCStatus = Int(headers.first { $0.0 == ":status" }?.1 ?? "") ?? 0
            if endStream { finishNonGRPC() }
            return
        }
        let contentType = headers.first { $0.0 == "content-type" }?.1 ?? "application/grpc"
        let fields = [("content-type", contentType)] + GRPCHeaderTranslation.downstreamResponseHeaders(headers, endStream: endStream)
        responseStarted = true
        responder?.sendResponseHead(status: 200, headers: fields, endStream: endStream)
        if endStream { finish(fields) }
    }

    func upstreamDidReceiveData(_ stream: UpstreamStream, _ bytes: UnsafeRawBufferPointer) {
        guard !finished, let responder else { stream.consume(bytes.count); return }
        if nonGRPCStatus != nil {
            let limit = UpstreamFailureStatus.nonGRPCBodyLimit
            if nonGRPCBody.count < limit { nonGRPCBody.append(contentsOf: bytes.prefix(limit - nonGRPCBody.count)) }
            stream.consume(bytes.count)
            return
        }
        do {
            try responseScanner.scan(bytes)
        } catch {
            stream.consume(bytes.count)
            fail(error.status, error.message)
            return
        }
        responder.sendResponseBody(bytes)
        if responder.hasQueuedResponseBytes { pendingConsume += bytes.count } else { stream.consume(bytes.count) }
    }

    func downstreamDrained() {
        if pendingConsume > 0, let stream {
            let n = pendingConsume
            pendingConsume = 0
            stream.consume(n)
        }
    }

    func upstreamDidReceiveTrailers(_ stream: UpstreamStream, _ trailers: [(String, String)]) {
        guard !finished, nonGRPCStatus == nil else { return }
        let fields = GRPCHeaderTranslation.downstreamResponseHeaders(trailers)
        responder?.endResponse(trailers: fields)
        finish(fields)
    }

    func upstreamDidClose(_ stream: UpstreamStream, failure: UpstreamFailure?) {
        if pendingConsume > 0 { stream.consume(pendingConsume); pendingConsume = 0 }
        guard !finished else { return }
        guard let failure else {
            if nonGRPCStatus != nil {
                finishNonGRPC()
            } else {
                fail(.internalError, responseStarted ? "upstream ended the stream without trailers" : "upstream closed the stream without a gRPC response")
            }
            return
        }
        stats.upstreamFailuresTotal.add(1)
        let (code, message) = UpstreamFailureStatus.status(for: failure)
        fail(code, message)
    }

    // MARK: Endings

    private func finishNonGRPC() {
        stats.upstreamFailuresTotal.add(1)
        let (code, message) = UpstreamFailureStatus.status(forHTTPStatus: nonGRPCStatus ?? 0, body: nonGRPCBody)
        fail(code, message, cancelUpstream: false)
    }

    private func deadlineExpired() {
        deadlineTimer = nil
        guard !finished else { return }
        stats.deadlineExceededTotal.add(1)
        fail(.deadlineExceeded, "deadline of \((deadlineNanos ?? 0) / 1_000_000) ms exceeded")
    }

    /// Ends the call with a status the proxy produced: trailers-only before the response started, HTTP/2
    /// trailers after it; a response cut inside a message is reset instead.
    private func fail(_ code: GRPCStatusCode, _ message: String, cancelUpstream: Bool = true) {
        guard !finished else { return }
        if cancelUpstream, let stream, !stream.isFinished { stream.cancel() }
        let fields = GRPCHeaderTranslation.statusFields(code, message)
        Log.debug("grpc", "\(head.path): \(code.rawValue) \(message)")
        if !responseStarted {
            responseStarted = true
            responder?.sendResponseHead(status: 200, headers: [("content-type", "application/grpc")] + fields, endStream: true)
        } else if !responseScanner.isAtMessageBoundary {
            responder?.cutResponse()
        } else {
            responder?.endResponse(trailers: fields)
        }
        finish(fields)
    }

    private func finish(_ fields: [(String, String)]) {
        guard !finished else { return }
        finished = true
        loop.cancelTimer(deadlineTimer)
        deadlineTimer = nil
        stats.callsActive.subtract(1)
        stats.recordStatus(Int(fields.first { $0.0 == "grpc-status" }?.1 ?? "") ?? 2)
        responder?.exchangeFinished(self)
        responder = nil
    }

    func requestFailed(_ code: GRPCStatusCode, _ message: String) {
        fail(code, message)
    }

    func downstreamClosed() {
        guard !finished else { return }
        finished = true
        loop.cancelTimer(deadlineTimer)
        deadlineTimer = nil
        stats.callsActive.subtract(1)
        stats.recordStatus(GRPCStatusCode.cancelled.rawValue)
        // The client is gone (RST_STREAM or the connection): RST_STREAM(CANCEL) upstream at once.
        stream?.cancel()
        if pendingConsume > 0 { stream?.consume(pendingConsume); pendingConsume = 0 }
        responder = nil
    }
}
