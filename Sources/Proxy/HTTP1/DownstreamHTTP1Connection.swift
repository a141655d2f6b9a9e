import Config
import EventLoop
import GRPCWebCodec
import HTTP1Codec
import Transport

/// A browser-side HTTP/1.1 connection: parses requests, answers what the proxy answers itself (CORS preflight,
/// errors) and hands gRPC-Web calls to `GRPCWebCall`, WebSocket upgrades to `WebSocketCall`.
/// Pipelined requests are processed strictly one at a time: bytes of the next request wait (reading paused)
/// until the current response is complete.
final class DownstreamHTTP1Connection: TCPConnectionDelegate {
    let tcp: TCPConnection
    unowned let worker: WorkerContext
    let listener: ListenerContext
    private var parser: HTTP1RequestParser
    private let limits: DownstreamLimits

    private var exchange: (any DownstreamExchange)?
    private var upgraded: (any UpgradedConnectionHandler)?
    /// The current request's body has been fully read (or there is no current request).
    private var requestComplete = true
    /// A request is being handled (from its head until its response is complete).
    private var inRequest = false
    /// The current request is answered locally and its remaining body is discarded.
    private var discardingBody = false
    private var keepAlive = true
    private var closeAfterResponse = false
    private var pendingInput: [UInt8] = []
    private var headerTimer: TimerHandle?
    private var idleTimer: TimerHandle?
    private var lastActivity: UInt64 = 0
    private var readPauseReasons: UInt8 = 0
    static let pausedForPipelining: UInt8 = 1
    static let pausedForUpstream: UInt8 = 2
    private var closed = false
    /// The HTTP/1.0 or 1.1 version of the current request (responses answer in kind).
    private var currentHead: HTTPRequestHead?

    init(fd: Int32, worker: WorkerContext, listener: ListenerContext) {
        self.worker = worker
        self.listener = listener
        self.limits = worker.config.limits
        self.parser = HTTP1RequestParser(limits: HTTP1Limits(maxHeaderBytes: limits.maxRequestHeadersSize,
                                                             maxHeaderCount: limits.maxHeadersCount,
                                                             maxBodyBytes: limits.maxRequestBodySize))
        tcp = TCPConnection(loop: worker.loop, fd: fd, readBuffer: worker.readBuffer)
        tcp.delegate = self
        armIdleTimer()
    }

    // MARK: Timers

    /// Marks the connection idle from now. The timer is lazy: it is armed once and, when it fires early, re-armed
    /// for the remaining time, so a busy keep-alive connection costs no timer work per request.
    private func armIdleTimer() {
        lastActivity = worker.loop.now
        guard idleTimer == nil, limits.idleTimeout > .zero else { return }
        scheduleIdleCheck(afterNanos: UInt64(limits.idleTimeout.nanoseconds))
    }

    private func scheduleIdleCheck(afterNanos delay: UInt64) {
        idleTimer = worker.loop.scheduleTimer(afterNanos: delay) { [weak self] in
            guard let self else { return }
            self.idleTimer = nil
            // Busy (a request in progress or a head arriving): the end of the request re-arms the timer.
            if self.inRequest || self.headerTimer != nil || self.closed { return }
            let limit = UInt64(self.limits.idleTimeout.nanoseconds)
            let idle = self.worker.loop.now &- self.lastActivity
            if idle >= limit {
                Log.debug("http1", "closing idle connection after \(self.limits.idleTimeout)")
                self.close()
            } else {
                self.scheduleIdleCheck(afterNanos: limit - idle)
            }
        }
    }

    private func armHeaderTimer() {
        guard headerTimer == nil, limits.headerReadTimeout > .zero else { return }
        headerTimer = worker.loop.scheduleTimer(after: limits.headerReadTimeout) { [weak self] in
            guard let self else { return }
            self.headerTimer = nil
            Log.debug("http1", "request headers not received within \(self.limits.headerReadTimeout)")
            self.sendPlainError(408, "request headers not received within \(self.limits.headerReadTimeout)")
        }
    }

    // MARK: Reading

    func pauseReading(_ reason: UInt8) {
        readPauseReasons |= reason
        tcp.pauseReading()
    }

    func resumeReading(_ reason: UInt8) {
        readPauseReasons &= ~reason
        if readPauseReasons == 0 { tcp.resumeReading() }
    }

    func connectionDidConnect(_ connection: TCPConnection) {}

    func connectionDidRead(_ connection: TCPConnection, _ bytes: UnsafeRawBufferPointer) {
        if let upgraded { upgraded.didRead(bytes); return }
        process(bytes)
    }

    /// Feeds the parser until it asks for more data. `.end` often comes from a call that consumes nothing (a
    /// body ending exactly at the end of a read), so the loop runs on an empty remainder too.
    private func process(_ bytes: UnsafeRawBufferPointer) {
        var offset = 0
        while !closed && upgraded == nil {
            if inRequest && requestComplete {
                // A pipelined request: keep it until the current response is done.
                if offset < bytes.count {
                    pendingInput.append(contentsOf: bytes[offset...])
                    pauseReading(Self.pausedForPipelining)
                }
                return
            }
            let input = UnsafeRawBufferPointer(rebasing: bytes[offset...])
            let event: HTTP1ParseEvent
            let consumed: Int
            do {
                (event, consumed) = try parser.next(input)
            } catch {
                parseFailed(error)
                return
            }
            offset += consumed
            switch event {
            case .needMoreData:
                if !inRequest && requestComplete && consumed > 0 { armHeaderTimer() }
                return
            case .head(let head):
                worker.loop.cancelTimer(headerTimer)
                headerTimer = nil
                onHead(head)
                if let upgraded {
                    // Bytes after the upgrade request already belong to the WebSocket.
                    if offset < bytes.count { upgraded.didRead(UnsafeRawBufferPointer(rebasing: bytes[offset...])) }
                    return
                }
            case .body(let range):
                if !discardingBody, let exchange {
                    exchange.requestBody(UnsafeRawBufferPointer(rebasing: input[range]))
                }
            case .end:
                requestComplete = true
                if !discardingBody, let exchange { exchange.requestEnd() }
                if !inRequest { readyForNextRequest() }
            }
        }
    }

    private func parseFailed(_ error: HTTP1ParseError) {
        worker.stats.httpLocalErrorsTotal.add(1)
        Log.debug("http1", "bad request: \(error.status) \(error.reason)")
        if let exchange {
            // Mid-body error on a proxied call: the upstream call cannot complete.
            self.exchange = nil
            exchange.downstreamClosed()
            close()
            return
        }
        sendPlainError(error.status, error.reason)
    }

    private func onHead(_ head: HTTPRequestHead) {
        worker.stats.httpRequestsTotal.add(1)
        inRequest = true
        requestComplete = false  // the parser's `.end` completes every request, bodies or not
        discardingBody = false
        keepAlive = head.keepAlive && !worker.draining
        currentHead = head

        if head.isUpgrade, head.headers["upgrade"]?.lowercased() == "websocket" {
            startWebSocket(head)
            return
        }
        if head.method == "OPTIONS" {
            answerOptions(head)
            return
        }
        guard head.method == "POST" else {
            sendPlainError(405, "method \(head.method) not allowed: gRPC-Web calls use POST", extra: [("Allow", "POST, OPTIONS")])
            return
        }
        let fields = GRPCWebRequestFields(head.headers)
        let contentType = fields.contentType ?? ""
        guard let encoding = GRPCWebContentType.classify(contentType) else {
            let why = GRPCWebContentType.looksLikeGRPCWeb(contentType)
                ? "unsupported gRPC-Web content-type \"\(contentType)\": use application/grpc-web(+proto) or application/grpc-web-text(+proto)"
                : "content-type must be application/grpc-web, application/grpc-web+proto, application/grpc-web-text or application/grpc-web-text+proto"
            sendPlainError(415, why)
            return
        }
        let route = listener.routes.match(path: head.path, headers: head.headers)
        let cors = route?.cors ?? listener.config.cors
        let corsHeaders = fields.origin == nil ? [] : CORSResponder.responseHeaders(origin: fields.origin, policy: cors)
        guard let route else {
            sendGRPCLocalReply(.unimplemented, "no route for \(head.path)", encoding: encoding, head: head, corsHeaders: corsHeaders)
            return
        }
        guard let pool = worker.pools[route.cluster] else {
            sendGRPCLocalReply(.unavailable, "cluster \(route.cluster) not found", encoding: encoding, head: head, corsHeaders: corsHeaders)
            return
        }
        worker.stats.grpcWebCallsTotal.add(1)
        let call = GRPCWebCall(connection: self, head: head, fields: fields, route: route, pool: pool, requestEncoding: encoding, corsHeaders: corsHeaders)
        exchange = call
        call.start()
    }

    private func answerOptions(_ head: HTTPRequestHead) {
        guard CORSResponder.isPreflight(head) else {
            sendPlainError(405, "OPTIONS without CORS preflight headers", extra: [("Allow", "POST, OPTIONS")])
            return
        }
        let route = listener.routes.match(path: head.path, headers: head.headers)
        switch CORSResponder.preflight(head, policy: route?.cors ?? listener.config.cors) {
        case .allowed(let headers):
            sendLocalResponse(status: 204, headers: headers + [("Content-Length", "0")], body: [])
        case .rejected(let why):
            sendPlainError(403, "CORS preflight rejected: \(why)")
        }
    }

    private func startWebSocket(_ head: HTTPRequestHead) {
        let call = WebSocketCall(connection: self, head: head)
        if let handler = call.start() {
            upgraded = handler
            // Bytes after the upgrade request belong to the WebSocket; the parser is done with this socket.
        }
    }

    // MARK: Responses the proxy writes itself

    /// A plain HTTP error for requests that are not gRPC-Web (or are malformed); always closes the connection.
    func sendPlainError(_ status: Int, _ message: String, extra: [(String, String)] = []) {
        worker.stats.httpLocalErrorsTotal.add(1)
        let body = Array((message + "\n").utf8)
        keepAlive = false
        discardingBody = true
        var headers: [(String, String)] = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", String(body.count))]
        headers += extra
        if let head = currentHead {
            let route = listener.routes.match(path: head.path, headers: head.headers)
            headers += CORSResponder.responseHeaders(origin: head.headers["origin"], policy: route?.cors ?? listener.config.cors)
        }
        sendLocalResponse(status: status, headers: headers, body: body)
    }

    /// A gRPC status produced by the proxy before any upstream answer: HTTP 200, trailers-only (PROTOCOLS.md §1.8).
    func sendGRPCLocalReply(_ code: GRPCStatusCode, _ message: String, encoding: GRPCWebEncoding, head: HTTPRequestHead, corsHeaders: [(String, String)]) {
        worker.stats.recordStatus(code.rawValue)
        // The rest of the request body (bounded by max_request_body_size) is read and dropped.
        discardingBody = true
        let responseEncoding = GRPCWebContentType.responseEncoding(request: encoding, accept: head.headers["accept"])
        var headers: [(String, String)] = [("Content-Type", GRPCWebContentType.responseContentType(responseEncoding))]
        headers += GRPCHeaderTranslation.statusFields(code, message)
        headers.append(("Content-Length", "0"))
        headers += corsHeaders
        sendLocalResponse(status: 200, headers: headers, body: [])
    }

    private func sendLocalResponse(status: Int, headers: [(String, String)], body: [UInt8]) {
        var out: [UInt8] = []
        out.reserveCapacity(256 + body.count)
        var h = headers
        if !keepAlive { h.append(("Connection", "close")) }
        HTTP1ResponseWriter.writeHead(status: status, headers: h, into: &out)
        out += body
        writeResponseBytes(out)
        responseFinished()
    }

    // MARK: Exchange plumbing

    func writeResponseBytes(_ bytes: [UInt8]) {
        corkUntilEndOfIteration()
        tcp.write(bytes)
    }

    func writeResponseParts(_ parts: [UnsafeRawBufferPointer]) {
        corkUntilEndOfIteration()
        tcp.write(parts: parts)
    }

    /// A response's head, data and trailers usually come out of one upstream read: cork so they leave in one
    /// writev at the end of the loop iteration instead of one syscall each.
    private func corkUntilEndOfIteration() {
        guard !tcp.isCorked, !tcp.isClosed else { return }
        tcp.cork()
        worker.loop.deferUntilEndOfIteration { [tcp] in tcp.uncork() }
    }
    var bufferedResponseBytes: Int { tcp.bufferedBytes }
    var connectionWillClose: Bool { !keepAlive }

    /// Called by the exchange when its response is completely written (queued).
    func exchangeFinished(_ e: any DownstreamExchange) {
        guard exchange === e else { return }
        exchange = nil
        // If the server answered before the browser finished sending, the rest of the body is dropped.
        discardingBody = true
        responseFinished()
    }

    private func responseFinished() {
        inRequest = false
        currentHead = nil
        resumeReading(Self.pausedForUpstream)
        if !keepAlive || worker.draining || closeAfterResponse {
            tcp.closeAfterWrites()
            if tcp.isClosed { connectionGone() }
            return
        }
        if !requestComplete { return }  // the rest of the body is discarded first; `.end` continues
        readyForNextRequest()
    }

    /// Both the response and the request body are done: wait for (or process) the next request.
    private func readyForNextRequest() {
        armIdleTimer()
        if !pendingInput.isEmpty {
            let input = pendingInput
            pendingInput = []
            resumeReading(Self.pausedForPipelining)
            // Run on the next turn so a long pipeline does not recurse.
            worker.loop.deferUntilEndOfIteration { [weak self] in
                guard let self, !self.closed else { return }
                input.withUnsafeBytes { self.process($0) }
            }
        } else {
            resumeReading(Self.pausedForPipelining)
        }
    }

    /// EOF from the browser means it is gone (browsers never half-close; Envoy treats HTTP/1 EOF the same way):
    /// an active call is cancelled upstream at once.
    func connectionDidReadEOF(_ connection: TCPConnection) {
        if let upgraded { upgraded.didReadEOF(); return }
        if let exchange {
            self.exchange = nil
            worker.stats.cancelledByClientTotal.add(1)
            exchange.downstreamClosed()
            close()
            return
        }
        if inRequest {
            // A locally produced response is still being written: finish it, then close.
            closeAfterResponse = true
            return
        }
        close()
    }

    func connectionDidDrainWrites(_ connection: TCPConnection) {
        if let upgraded { upgraded.didDrain(); return }
        exchange?.downstreamDrained()
    }

    func connectionDidClose(_ connection: TCPConnection, errno: Int32) {
        if let upgraded { self.upgraded = nil; upgraded.didClose() }
        if let exchange {
            self.exchange = nil
            worker.stats.cancelledByClientTotal.add(1)
            exchange.downstreamClosed()
        }
        connectionGone()
    }

    /// Closes the socket; an active exchange is told the browser is gone.
    func close() {
        guard !closed else { return }
        if let exchange {
            self.exchange = nil
            exchange.downstreamClosed()
        }
        if let upgraded { self.upgraded = nil; upgraded.didClose() }
        tcp.close()
        connectionGone()
    }

    /// The WebSocket handler is finished with the socket.
    func upgradedFinished() {
        upgraded = nil
        tcp.closeAfterWrites()
        if tcp.isClosed { connectionGone() } else { closeAfterResponse = true }
    }

    private func connectionGone() {
        guard !closed else { return }
        closed = true
        worker.loop.cancelTimer(idleTimer)
        worker.loop.cancelTimer(headerTimer)
        worker.connectionClosed(self)
    }

    func drain() {
        if let upgraded { upgraded.drain(); return }
        if !inRequest && pendingInput.isEmpty {
            close()
        } else {
            closeAfterResponse = true
        }
    }
}
