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
    private var state: UpstreamCallState
    private let requestBufferLimit: Int
    private var requestScanner: GRPCFrameScanner
    private var responseScanner: GRPCFrameScanner
    private var stream: UpstreamStream?
    private(set) var responseStarted = false

    init(responder: any DownstreamResponder, head: HTTPRequestHead, route: RouteConfig, pool: ClusterPool) {
        self.responder = responder
        self.head = head
        self.route = route
        self.pool = pool
        state = UpstreamCallState(worker: responder.worker, summary: responder.startSummary(head, transport: .grpc))
        let limits = responder.worker.config.limits
        requestBufferLimit = limits.writeBufferLimit
        // Compressed messages pass: native clients negotiate compression with the server themselves.
        requestScanner = GRPCFrameScanner(maxMessageSize: route.maxRequestBytes ?? limits.maxMessageSize,
                                          allowCompressed: true, label: "request")
        responseScanner = GRPCFrameScanner(maxMessageSize: limits.maxMessageSize, allowCompressed: true, label: "response")
    }

    func start() {
        let deadline = state.start(grpcTimeout: head.headers["grpc-timeout"], route: route) { [self] in
            if let why = state.deadlineExpired() { fail(.deadlineExceeded, why) }
        }
        let identity = state.identify(route: route, head.headers)
        if let responder, let rejection = state.admitAtEdge(EdgeCallRequest(
            route: route, listenerName: responder.listenerName, head: head, webSocketMetadata: nil,
            downstreamAddress: responder.downstreamAddress, downstreamHost: responder.downstreamHost, secure: responder.isSecure,
            requestID: identity.requestID)) {
            fail(rejection.code, rejection.message, metadata: rejection.metadata)
            return
        }
        var headers = GRPCHeaderTranslation.upstreamRequestHeaders(
            path: head.target, authority: head.headers["host"] ?? route.cluster, contentType: head.headers["content-type"],
            metadata: head.headers, timeoutNanos: deadline, forwardedClientCert: responder?.forwardedClientCertificate,
            native: true)
        identity.apply(to: &headers)
        state.edge.applyUpstream(to: &headers)
        stream = pool.startStream(headers: headers, delegate: self)
    }

    // MARK: Request (client -> upstream)

    func requestBody(_ bytes: UnsafeRawBufferPointer) {
        guard !state.finished, let stream else { return }
        do {
            try requestScanner.scan(bytes)
        } catch {
            state.stats.count(error)
            fail(error.status, error.message)
            return
        }
        state.summary.requestBytes &+= bytes.count
        stream.sendBody(bytes)
        if stream.bufferedRequestBytes > requestBufferLimit { responder?.pauseRequestBody() }
    }

    func requestEnd() {
        guard !state.finished, let stream else { return }
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
        guard !state.finished else { return }
        if state.noteIfNotGRPC(headers) {
            if endStream { finishNonGRPC() }
            return
        }
        let contentType = headers.first { $0.0 == "content-type" }?.1 ?? "application/grpc"
        var fields = [("content-type", contentType)] + GRPCHeaderTranslation.downstreamResponseHeaders(headers, endStream: endStream)
        state.edge.applyResponseHeaders(to: &fields, trailersOnly: endStream)
        responseStarted = true
        responder?.sendResponseHead(status: 200, headers: fields, endStream: endStream)
        if endStream { finish(fields) }
    }

    func upstreamDidReceiveData(_ stream: UpstreamStream, _ bytes: UnsafeRawBufferPointer) {
        guard !state.finished, let responder else { stream.consume(bytes.count); return }
        if state.nonGRPCStatus != nil {
            state.captureNonGRPCBody(bytes, from: stream)
            return
        }
        do {
            try responseScanner.scan(bytes)
        } catch {
            stream.consume(bytes.count)
            state.stats.count(error)
            fail(error.status, error.message)
            return
        }
        state.summary.responseBytes &+= bytes.count
        responder.sendResponseBody(bytes)
        state.forwarded(bytes.count, queued: responder.hasQueuedResponseBytes, on: stream)
    }

    func downstreamDrained() {
        state.returnOwedWindow(stream)
    }

    func upstreamDidReceiveTrailers(_ stream: UpstreamStream, _ trailers: [(String, String)]) {
        guard !state.finished, state.nonGRPCStatus == nil else { return }
        var fields = GRPCHeaderTranslation.downstreamResponseHeaders(trailers)
        state.edge.applyResponseTrailers(to: &fields)
        responder?.endResponse(trailers: fields)
        finish(fields)
    }

    func upstreamDidClose(_ stream: UpstreamStream, failure: UpstreamFailure?) {
        state.returnOwedWindow(stream)
        guard !state.finished else { return }
        let (code, message, nonGRPC) = state.closeOutcome(failure, responseStarted: responseStarted)
        fail(code, message, cancelUpstream: !nonGRPC)
    }

    // MARK: Endings

    private func finishNonGRPC() {
        let (code, message) = state.nonGRPCOutcome()
        fail(code, message, cancelUpstream: false)
    }

    /// Ends the call with a status the proxy produced: trailers-only before the response started, HTTP/2
    /// trailers after it; a response cut inside a message is reset instead.
    /// `metadata`: extra fields next to the status (an edge rule's retry delay).
    private func fail(_ code: GRPCStatusCode, _ message: String, cancelUpstream: Bool = true, metadata: [(String, String)] = []) {
        guard !state.finished else { return }
        if cancelUpstream, let stream, !stream.isFinished { stream.cancel() }
        let fields = GRPCHeaderTranslation.statusFields(code, message) + metadata
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
        guard !state.finished else { return }
        noteEnd()
        guard state.end(fields: fields) else { return }
        responder?.exchangeFinished(self)
        responder = nil
    }

    func requestFailed(_ code: GRPCStatusCode, _ message: String) {
        fail(code, message)
    }

    /// The client is gone (RST_STREAM or the connection): RST_STREAM(CANCEL) upstream at once.
    func downstreamClosed() {
        guard !state.finished else { return }
        noteEnd()
        if state.clientLeft(stream) { responder = nil }
    }

    private func noteEnd() {
        state.noteEnd(requestMessages: requestScanner.messageCount, responseMessages: responseScanner.messageCount, stream: stream)
    }
}
