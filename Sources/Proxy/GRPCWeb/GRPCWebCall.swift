import Config
import EventLoop
import GRPCWebCodec
import HTTP1Codec
import Upstream

/// One gRPC-Web call: a request from the browser (HTTP/1.1, or a stream of an HTTP/2 connection) joined to one
/// HTTP/2 stream upstream.
///
/// The upstream call starts as soon as the request head arrives and the body streams through (binary bytes pass
/// untouched, text is base64-decoded per 4-char quantum); each upstream DATA frame is written to the browser at
/// once as one piece, and the HTTP/2 window is given back only when the browser's side has taken the bytes.
final class GRPCWebCall: DownstreamExchange, UpstreamStreamDelegate {
    /// Strong (no per-call weak side table); the responder drops its reference when the exchange finishes.
    private var connection: (any DownstreamResponder)?
    private let head: HTTPRequestHead
    private let fields: GRPCWebRequestFields
    private let route: RouteConfig
    private let pool: ClusterPool
    private let requestEncoding: GRPCWebEncoding
    private let responseEncoding: GRPCWebEncoding
    private let corsHeaders: [(String, String)]
    /// `expose_headers: auto` on a cross-origin call: the expose field lists the fields each response head sends.
    private let exposesSentHeaders: Bool
    private var state: UpstreamCallState

    private var stream: UpstreamStream?
    /// Request bytes waiting for the upstream window above which the browser is no longer read.
    private let requestBufferLimit: Int
    private var requestScanner: GRPCFrameScanner
    private var responseScanner: GRPCFrameScanner
    private var base64Decoder = Base64StreamDecoder()
    private var decoded: [UInt8] = []
    private(set) var responseStarted = false

    init(connection: any DownstreamResponder, head: HTTPRequestHead, fields: GRPCWebRequestFields, route: RouteConfig,
         pool: ClusterPool, requestEncoding: GRPCWebEncoding, corsHeaders: [(String, String)]) {
        self.connection = connection
        self.head = head
        self.fields = fields
        self.route = route
        self.pool = pool
        self.requestEncoding = requestEncoding
        self.responseEncoding = GRPCWebContentType.responseEncoding(request: requestEncoding, accept: fields.accept)
        self.corsHeaders = corsHeaders
        exposesSentHeaders = !corsHeaders.isEmpty && route.cors?.exposeSentHeaders == true
        state = UpstreamCallState(worker: connection.worker,
                                  summary: connection.startSummary(head, transport: requestEncoding == .text ? .grpcWebText : .grpcWeb))
        let limits = connection.worker.config.limits
        requestBufferLimit = limits.writeBufferLimit
        requestScanner = GRPCFrameScanner(maxMessageSize: route.maxRequestBytes ?? limits.maxMessageSize, label: "request")
        responseScanner = GRPCFrameScanner(maxMessageSize: limits.maxMessageSize, allowTrailerFrames: false,
                                           allowCompressed: fields.grpcAcceptEncoding != nil, label: "response")
    }

    func start() {
        // The shorter of the browser's grpc-timeout and the route's timeout is enforced here and forwarded.
        let deadline = state.start(grpcTimeout: fields.grpcTimeout, route: route) { [self] in
            if let why = state.deadlineExpired() { fail(.deadlineExceeded, why) }
        }
        let identity = state.identify(route: route, head.headers)
        if let connection, let rejection = state.admitAtEdge(EdgeCallRequest(
            route: route, listenerName: connection.listenerName, head: head, webSocketMetadata: nil,
            downstreamAddress: connection.downstreamAddress, downstreamHost: connection.downstreamHost, secure: connection.isSecure,
            requestID: identity.requestID)) {
            fail(rejection.code, rejection.message, metadata: rejection.metadata)
            return
        }
        var headers = GRPCHeaderTranslation.upstreamRequestHeaders(
            path: head.target, authority: fields.host ?? route.cluster, contentType: fields.contentType,
            metadata: head.headers, timeoutNanos: deadline, forwardedClientCert: connection?.forwardedClientCertificate)
        identity.apply(to: &headers)
        state.edge.applyUpstream(to: &headers)
        stream = pool.startStream(headers: headers, delegate: self)
    }

    // MARK: Request body (browser -> upstream)

    func requestBody(_ bytes: UnsafeRawBufferPointer) {
        guard !state.finished, let stream else { return }
        do {
            switch requestEncoding {
            case .binary:
                try requestScanner.scan(bytes)
                state.summary.requestBytes &+= bytes.count
                stream.sendBody(bytes)
            case .text:
                decoded.removeAll(keepingCapacity: true)
                do {
                    try base64Decoder.decode(bytes, into: &decoded)
                } catch {
                    fail(.invalidArgument, "invalid base64 in grpc-web-text request body: \(error.message)")
                    return
                }
                try decoded.withUnsafeBytes { try requestScanner.scan($0) }
                state.summary.requestBytes &+= decoded.count
                stream.sendBody(decoded)
            }
        } catch let e as GRPCFrameError {
            state.stats.count(e)
            fail(e.status, e.message)
            return
        } catch {
            fail(.internalError, "\(error)")
            return
        }
        if stream.bufferedRequestBytes > requestBufferLimit {
            connection?.pauseRequestBody()
        }
    }

    func requestEnd() {
        guard !state.finished, let stream else { return }
        if requestEncoding == .text {
            do { try base64Decoder.finish() } catch {
                fail(.invalidArgument, "invalid base64 in grpc-web-text request body: \(error.message)")
                return
            }
        }
        do { try requestScanner.finish() } catch {
            fail(error.status, error.message)
            return
        }
        stream.endBody()
    }

    func upstreamRequestBodyDrained(_ stream: UpstreamStream) {
        connection?.resumeRequestBody()
    }

    // MARK: Response (upstream -> browser)

    func upstreamDidReceiveHeaders(_ stream: UpstreamStream, _ headers: [(String, String)], endStream: Bool) {
        guard !state.finished else { return }
        if state.noteIfNotGRPC(headers) {
            if endStream { finishNonGRPC() }
            return
        }
        if endStream {
            var fields = GRPCHeaderTranslation.downstreamResponseHeaders(headers, endStream: true)
            state.edge.applyResponseHeaders(to: &fields, trailersOnly: true)
            writeTrailersOnly(fields)
            return
        }
        var h: [(String, String)] = [("Content-Type", GRPCWebContentType.responseContentType(responseEncoding))]
        var fields = GRPCHeaderTranslation.downstreamResponseHeaders(headers)
        state.edge.applyResponseHeaders(to: &fields)
        h += fields
        appendCORS(to: &h)
        responseStarted = true
        connection?.sendResponseHead(status: 200, headers: h, endStream: false)
    }

    func upstreamDidReceiveData(_ stream: UpstreamStream, _ bytes: UnsafeRawBufferPointer) {
        guard !state.finished, let connection else { stream.consume(bytes.count); return }
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
        switch responseEncoding {
        case .binary:
            if bytes.count > 0 { connection.sendResponseBody(bytes) }
        case .text:
            var encoded: [UInt8] = []
            encoded.reserveCapacity(Base64.encodedLength(bytes.count))
            GRPCWebTextEncoder.encodePiece(bytes, into: &encoded)
            if !encoded.isEmpty { encoded.withUnsafeBytes { connection.sendResponseBody($0) } }
        }
        state.forwarded(bytes.count, queued: connection.hasQueuedResponseBytes, on: stream)
    }

    func downstreamDrained() {
        state.returnOwedWindow(stream)
    }

    func upstreamDidReceiveTrailers(_ stream: UpstreamStream, _ trailers: [(String, String)]) {
        guard !state.finished, state.nonGRPCStatus == nil else { return }
        var fields = GRPCHeaderTranslation.downstreamResponseHeaders(trailers)
        state.edge.applyResponseTrailers(to: &fields)
        writeTrailerFrameAndEnd(fields)
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

    /// Ends the call with a status the proxy produced: trailers-only before the response started, else a
    /// trailer frame. Resets the upstream stream (CANCEL) if it is still open.
    /// `metadata`: extra fields next to the status (an edge rule's retry delay).
    private func fail(_ code: GRPCStatusCode, _ message: String, cancelUpstream: Bool = true, metadata: [(String, String)] = []) {
        guard !state.finished else { return }
        if cancelUpstream, let stream, !stream.isFinished { stream.cancel() }
        let fields = GRPCHeaderTranslation.statusFields(code, message) + metadata
        Log.debug("grpc-web", "\(head.path): \(code.rawValue) \(message)")
        if responseStarted {
            writeTrailerFrameAndEnd(fields)
        } else {
            writeTrailersOnly(fields)
        }
    }

    /// HTTP 200 with the status fields as headers and an empty body (PROTOCOLS.md §1.7).
    private func writeTrailersOnly(_ fields: [(String, String)]) {
        guard let connection else { finish(fields); return }
        var h: [(String, String)] = [("Content-Type", GRPCWebContentType.responseContentType(responseEncoding))]
        h += fields
        appendCORS(to: &h)
        responseStarted = true
        connection.sendResponseHead(status: 200, headers: h, endStream: true)
        finish(fields)
    }

    /// The CORS fields go last, after every edit of the response fields, so an auto expose list names exactly
    /// what this head sends.
    private func appendCORS(to h: inout [(String, String)]) {
        let corsStart = h.count
        h += corsHeaders
        if exposesSentHeaders { CORSResponder.exposeSentFields(in: &h, corsStart: corsStart) }
    }

    private func writeTrailerFrameAndEnd(_ fields: [(String, String)]) {
        guard let connection else { finish(fields); return }
        if !responseScanner.isAtMessageBoundary {
            // Never append the trailer frame inside a message: the page would parse it as message bytes and
            // never see the status. Cut the response so the client reports a failure instead.
            Log.debug("grpc-web", "\(head.path): call ended inside a response message; cutting the response")
            connection.cutResponse()
            finish(fields)
            return
        }
        var frame: [UInt8] = []
        GRPCTrailers.encodeFrame(fields, into: &frame)
        if responseEncoding == .text {
            var encoded: [UInt8] = []
            frame.withUnsafeBytes { GRPCWebTextEncoder.encodePiece($0, into: &encoded) }
            frame = encoded
        }
        frame.withUnsafeBytes { connection.sendResponseBody($0) }
        connection.endResponse(trailers: nil)
        finish(fields)
    }

    private func finish(_ fields: [(String, String)]) {
        guard !state.finished else { return }
        noteEnd()
        guard state.end(fields: fields) else { return }
        connection?.exchangeFinished(self)
    }

    func requestFailed(_ code: GRPCStatusCode, _ message: String) {
        fail(code, message)
    }

    /// The browser is gone: RST_STREAM(CANCEL) upstream at once.
    func downstreamClosed() {
        guard !state.finished else { return }
        noteEnd()
        _ = state.clientLeft(stream)
    }

    private func noteEnd() {
        state.noteEnd(requestMessages: requestScanner.messageCount, responseMessages: responseScanner.messageCount, stream: stream)
    }
}
