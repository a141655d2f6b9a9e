import Config
import EventLoop
import GRPCWebCodec
import HTTP1Codec
import HTTP2

/// One request stream of a `DownstreamHTTP2Connection`, and the responder of its call.
///
/// Request body: each DATA payload goes to the call at once; the stream's window is given back when the call has
/// taken the bytes, unless the call paused the body (its upstream window is closed): then it is owed until the
/// call resumes. So a client can have at most `initial_stream_window` bytes per stream waiting in the proxy.
/// Response: the call's pieces are queued here and nghttp2 pulls them as DATA within the client's windows; when
/// the queue empties the call is told (`downstreamDrained`) and gives the upstream its window back.
final class DownstreamHTTP2Stream: DownstreamResponder {
    let id: Int32
    /// The connection owns its streams; a call may hold its stream a little longer, so the connection is touched
    /// only while the stream is open (checked unowned: a mistake traps instead of reading freed memory).
    unowned let connection: DownstreamHTTP2Connection
    /// The worker outlives every connection and stream.
    unowned(unsafe) let worker: WorkerContext
    private var exchange: (any DownstreamExchange)?
    private var requestComplete = false
    private var requestPaused = false
    /// Stream window held back while the request body is paused.
    private var owedWindow = 0
    /// Response bytes waiting for nghttp2: `out[outHead...]`.
    private var out: [UInt8] = []
    private var outHead = 0
    private var bodyEnded = false
    private var trailers: [(String, String)]?
    /// nghttp2 asked for body and got none: `resumeBody` is needed when more arrives.
    private var bodyDeferred = false
    private var isClosed = false
    /// `limits.request_body_timeout` for this stream's body (lazy, as on HTTP/1.1: armed once, re-armed for the
    /// remaining time when bytes arrived in between).
    private var bodyTimer: TimerHandle?
    private var lastBodyActivity: UInt64 = 0

    init(id: Int32, connection: DownstreamHTTP2Connection) {
        self.id = id
        self.connection = connection
        self.worker = connection.worker
    }

    private var session: HTTP2Session { connection.session }
    /// Kept from the connection when the stream starts (a call may end after the connection is gone).
    private(set) lazy var downstreamAddress: String = connection.downstreamAddress
    var downstreamHost: String { connection.downstreamHost }
    var httpVersion: String { "2" }
    private(set) lazy var listenerName: String = connection.listener.config.name
    var isSecure: Bool { connection.listener.config.tls != nil }

    // MARK: Request

    func start(fields: [(String, String)], endStream: Bool) {
        var method = "", path = "", authority: String?, connectProtocol: String?
        var headers = HTTPHeaders()
        for (name, value) in fields {
            switch name {
            case ":method": method = value
            case ":path": path = value
            case ":authority": authority = value
            case ":protocol": connectProtocol = value
            case ":scheme": break
            default: headers.add(name: name, value: value)
            }
        }
        if headers["host"] == nil, let authority { headers.add(name: "host", value: authority) }
        var head = HTTPRequestHead(method: method, target: path, path: Self.pathWithoutQuery(path), versionMinor: 1,
                                   headers: headers, keepAlive: true, isUpgrade: false, bodyKind: endStream ? .none : .chunked)
        if method == "CONNECT" {
            // RFC 8441 extended CONNECT (WebSocket over HTTP/2).
            startConnect(protocol: connectProtocol, head: head)
            if endStream { requestEnded() }
            return
        }
        let listener = connection.listener
        switch RequestAdmission.decide(&head, listener: listener, worker: worker, allowNativeGRPC: true) {
        case .preflight(let headers):
            sendResponseHead(status: 204, headers: headers, endStream: true)
        case .plainError(let status, let message, let extra):
            sendPlainError(status, message, extra: extra, head: head)
        case .grpcLocalReply(let code, let message, let encoding, let cors):
            worker.stats.recordStatus(code.rawValue)
            reportLocalReply(head, transport: encoding == .text ? .grpcWebText : .grpcWeb, code, message)
            let responseEncoding = GRPCWebContentType.responseEncoding(request: encoding, accept: head.headers["accept"])
            let headers = [("content-type", GRPCWebContentType.responseContentType(responseEncoding))]
                + GRPCHeaderTranslation.statusFields(code, message) + cors
            sendResponseHead(status: 200, headers: headers, endStream: true)
        case .grpcWeb(let route, let pool, let encoding, let fields, let cors):
            worker.stats.grpcWebCallsTotal.add(1)
            let call = GRPCWebCall(connection: self, head: head, fields: fields, route: route, pool: pool, requestEncoding: encoding, corsHeaders: cors)
            exchange = call
            call.start()
        case .nativeGRPC(let route, let pool):
            worker.stats.nativeGRPCCallsTotal.add(1)
            let call = NativeGRPCCall(responder: self, head: head, route: route, pool: pool)
            exchange = call
            call.start()
        case .nativeLocalReply(let code, let message):
            worker.stats.recordStatus(code.rawValue)
            reportLocalReply(head, transport: .grpc, code, message)
            sendResponseHead(status: 200, headers: [("content-type", "application/grpc")] + GRPCHeaderTranslation.statusFields(code, message),
                             endStream: true)
        }
        if endStream {
            requestEnded()
        } else if exchange == nil {
            // Answered here (preflight, error, local status) while the client still has a body to send.
            endClientSideAfterGrace()
        } else {
            armBodyTimer()
        }
    }

    /// `:path` up to the first `?` (byte search: gRPC paths rarely have a query, and this runs per request).
    static func pathWithoutQuery(_ path: String) -> String {
        guard let q = path.utf8.firstIndex(of: UInt8(ascii: "?")) else { return path }
        return String(path[..<q])
    }

    private func startConnect(protocol connectProtocol: String?, head: HTTPRequestHead) {
        guard connectProtocol?.lowercased() == "websocket" else {
            sendLocalResponse(status: 501, headers: [("content-type", "text/plain; charset=utf-8")],
                              body: "extended CONNECT (\(connectProtocol ?? "no :protocol")) is not supported on this listener\n")
            return
        }
        // The WebSocket call runs on this stream; refusals are answered on it as plain HTTP errors.
        let transport = HTTP2WebSocketTransport(stream: self, head: head, connectProtocol: connectProtocol)
        if transport.start() { exchange = transport }
    }

    /// A plain HTTP error for `head` (with the route's CORS fields); the response ends the stream.
    func sendPlainError(_ status: Int, _ message: String, extra: [(String, String)], head: HTTPRequestHead) {
        worker.stats.httpLocalErrorsTotal.add(1)
        let listener = connection.listener
        let route = listener.routes.match(path: head.path, headers: head.headers)
        let cors = CORSResponder.responseHeaders(origin: head.headers["origin"], policy: route?.cors ?? listener.config.cors)
        sendLocalResponse(status: status, headers: [("content-type", "text/plain; charset=utf-8")] + extra + cors, body: message + "\n")
    }

    private func sendLocalResponse(status: Int, headers: [(String, String)], body: String) {
        sendResponseHead(status: status, headers: headers, endStream: false)
        Array(body.utf8).withUnsafeBytes { sendResponseBody($0) }
        endResponse(trailers: nil)
    }

    /// A DATA payload of this stream (the connection window already went back).
    func requestBody(_ bytes: UnsafeRawBufferPointer) {
        guard let exchange, !requestComplete else {
            // Nobody takes these bytes. Once the response is complete the window is not given back either: a
            // client that keeps uploading into a finished call stalls itself, not the proxy.
            if exchange == nil && !isClosed && !responseComplete { session.consumeStream(id, bytes.count) }
            return
        }
        lastBodyActivity = worker.loop.now
        exchange.requestBody(bytes)
        if requestPaused {
            owedWindow += bytes.count
        } else if !isClosed {
            session.consumeStream(id, bytes.count)
        }
    }

    func requestEnded() {
        guard !requestComplete else { return }
        requestComplete = true
        cancelBodyTimer()
        exchange?.requestEnd()
    }

    private func armBodyTimer() {
        lastBodyActivity = worker.loop.now
        let limit = worker.config.limits.requestBodyTimeout
        guard bodyTimer == nil, limit > .zero, exchange != nil else { return }
        scheduleBodyCheck(afterNanos: UInt64(limit.nanoseconds))
    }

    private func scheduleBodyCheck(afterNanos delay: UInt64) {
        // Strong capture: cancelled when the body completes or the stream closes.
        bodyTimer = worker.loop.scheduleTimer(afterNanos: delay) { [self] in
            bodyTimer = nil
            guard !isClosed, !requestComplete, let exchange else { return }
            let limit = UInt64(worker.config.limits.requestBodyTimeout.nanoseconds)
            let quiet = worker.loop.now &- lastBodyActivity
            // While the proxy itself holds the body back (upstream window closed), the client cannot send.
            if requestPaused || quiet < limit {
                scheduleBodyCheck(afterNanos: requestPaused ? limit : limit - quiet)
                return
            }
            worker.stats.requestBodyTimeoutsTotal.add(1)
            exchange.requestFailed(.unavailable, "request body stalled for \(worker.config.limits.requestBodyTimeout)")
        }
    }

    private func cancelBodyTimer() {
        worker.loop.cancelTimer(bodyTimer)
        bodyTimer = nil
    }

    func pauseRequestBody() { requestPaused = true }

    func resumeRequestBody() {
        requestPaused = false
        if owedWindow > 0 && !isClosed {
            session.consumeStream(id, owedWindow)
            owedWindow = 0
            connection.scheduleFlush()
        }
    }

    // MARK: Response

    private var responseComplete = false

    func sendResponseHead(status: Int, headers: [(String, String)], endStream: Bool) {
        guard !isClosed else { return }
        var h: [(String, String)] = [(":status", String(status))]
        h.reserveCapacity(headers.count + 1)
        for (name, value) in headers {
            let lower = name.lowercased()
            // Connection-specific fields are not allowed in HTTP/2 (RFC 9113 §8.2.2).
            switch lower {
            case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade": continue
            default: h.append((lower, value))
            }
        }
        session.submitResponse(streamID: id, h, hasBody: !endStream)
        if endStream { responseComplete = true }
        connection.scheduleFlush()
    }

    func sendResponseBody(_ bytes: UnsafeRawBufferPointer) {
        guard !isClosed, bytes.count > 0 else { return }
        out.append(contentsOf: bytes)
        resumeIfDeferred()
    }

    func endResponse(trailers: [(String, String)]?) {
        guard !isClosed else { return }
        bodyEnded = true
        self.trailers = trailers.map { $0.map { ($0.0.lowercased(), $0.1) } }
        resumeIfDeferred()
    }

    private func resumeIfDeferred() {
        if bodyDeferred {
            bodyDeferred = false
            session.resumeBody(streamID: id)
        }
        connection.scheduleFlush()
    }

    /// The call ended inside a message: RST_STREAM(INTERNAL_ERROR), which every client reports as a failure.
    func cutResponse() {
        guard !isClosed else { return }
        worker.stats.responsesAbortedMidMessageTotal.add(1)
        resetStream(errorCode: HTTP2ErrorCode.internalError)
    }

    /// RST_STREAM with this code (a WebSocket that ends without a close frame uses CANCEL).
    func resetStream(errorCode: UInt32) {
        guard !isClosed else { return }
        session.resetStream(id, errorCode: errorCode)
        connection.scheduleFlush()
    }

    var hasQueuedResponseBytes: Bool { out.count > outHead }

    /// nghttp2 pulls the next DATA payload (within the client's windows).
    func readResponseBody(into buffer: UnsafeMutableRawBufferPointer) -> HTTP2BodyChunk {
        let available = out.count - outHead
        let n = min(available, buffer.count)
        if n > 0 {
            out.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress! + outHead, byteCount: n) }
            outHead += n
            if outHead == out.count {
                // Keep a small buffer for the next message; release a large one.
                if out.capacity > 64 * 1024 { out = [] } else { out.removeAll(keepingCapacity: true) }
                outHead = 0
                // The client's side took everything: the call may give its upstream window back. After this
                // callback, not inside it (the call may queue more and resume this stream).
                worker.loop.deferUntilEndOfIteration { [self] in exchange?.downstreamDrained() }
            }
        }
        if out.count > outHead { return .bytes(n, end: false) }
        guard bodyEnded else {
            if n > 0 { return .bytes(n, end: false) }
            bodyDeferred = true
            return .deferred
        }
        responseComplete = true
        if let trailers {
            session.submitTrailers(streamID: id, trailers)
            return .endBeforeTrailers(n)
        }
        return .bytes(n, end: true)
    }

    func exchangeFinished(_ exchange: any DownstreamExchange) {
        guard self.exchange === exchange else { return }
        self.exchange = nil
        if !requestComplete { endClientSideAfterGrace() }
    }

    /// How long a client has to end its side once our response is complete.
    static let clientEndGrace: Duration = .seconds(5)

    /// Our response is complete but the client has not ended its side (a request body still coming, or a
    /// WebSocket client that does not answer our close): the stream would hold a slot of max_concurrent_streams
    /// for as long as the connection lives. After a grace its side is ended with RST_STREAM(NO_ERROR)
    /// (RFC 9113 §8.1); nothing happens if the stream closed meanwhile.
    func endClientSideAfterGrace() {
        _ = worker.loop.scheduleTimer(after: Self.clientEndGrace) { [self] in
            if !requestComplete { resetStream(errorCode: HTTP2ErrorCode.noError) }
        }
    }

    var forwardedClientCertificate: String? { connection.forwardedClientCertificate }

    /// The stream closed (both ends done, reset by the client, or the connection went away).
    func closed(errorCode: UInt32) {
        guard !isClosed else { return }
        isClosed = true
        cancelBodyTimer()
        if let exchange {
            self.exchange = nil
            worker.stats.cancelledByClientTotal.add(1)
            exchange.downstreamClosed()
        }
        out = []
        outHead = 0
    }
}
