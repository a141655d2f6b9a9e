import Config
import EventLoop
import GRPCWebCodec
import HTTP1Codec
import TLS
import Transport

/// A browser-side HTTP/1.1 connection: parses requests, answers what the proxy answers itself (CORS preflight,
/// errors) and hands gRPC-Web calls to `GRPCWebCall`, WebSocket upgrades to `WebSocketCall`.
/// Pipelined requests are processed strictly one at a time: bytes of the next request wait (reading paused)
/// until the current response is complete and the socket's queue is below `limits.output_buffer_limit`, so a
/// client that pipelines and never reads holds at most that much (plus one call's stream window).
final class DownstreamHTTP1Connection: TCPConnectionDelegate, DownstreamConnection {
    let tcp: TCPConnection
    /// The worker outlives its connections: unowned(unsafe), no reference counting on each access.
    unowned(unsafe) let worker: WorkerContext
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
    /// A response that closes the connection has been queued: nothing more is parsed or processed (RFC 9112 §9.6).
    private var closing = false
    /// The next request waits until the output queue drains (it was above `output_buffer_limit`).
    private var waitingForOutputDrain = false
    private var bodyTimer: TimerHandle?
    private var lastBodyActivity: UInt64 = 0
    private var pendingInput: [UInt8] = []
    private var headerTimer: TimerHandle?
    private var idleTimer: TimerHandle?
    private var lastActivity: UInt64 = 0
    private var readPauseReasons: UInt8 = 0
    static let pausedForPipelining: UInt8 = 1
    static let pausedForUpstream: UInt8 = 2
    static let pausedForOutput: UInt8 = 4
    private var closed = false
    /// The HTTP/1.0 or 1.1 version of the current request (responses answer in kind).
    private var currentHead: HTTPRequestHead?
    /// The connection's first bytes are still compared with the HTTP/2 preface (cleartext listeners with http2).
    var sniffingForHTTP2Preface = false
    /// Bytes that matched the preface so far (fewer than its 24).
    var sniffedBytes: [UInt8] = []
    /// The current response uses chunked framing (set by `sendResponseHead`).
    var responseChunked = false
    var currentRequestVersionMinor: Int? { currentHead?.versionMinor }
    /// The client's address, for call summaries: one getpeername per connection, only if a call asks.
    lazy var downstreamAddress: String = tcp.peerAddressText()
    lazy var downstreamHost: String = EdgeCallRequest.host(of: downstreamAddress)

    init(fd: Int32, worker: WorkerContext, listener: ListenerContext) {
        self.worker = worker
        self.listener = listener
        self.limits = worker.config.limits
        self.parser = HTTP1RequestParser(limits: HTTP1Limits(maxHeaderBytes: limits.maxRequestHeadersSize,
                                                             maxHeaderCount: limits.maxHeadersCount,
                                                             maxBodyBytes: limits.maxRequestBodySize))
        var tls: TLSAcceptOptions?
        if let context = worker.tlsListeners[listener.config.name], let settings = listener.config.tls {
            tls = TLSAcceptOptions(context: context, handshakeTimeout: settings.handshakeTimeout,
                                   plaintextAnswer: Self.plainHTTPOnTLSPortAnswer)
        }
        tcp = TCPConnection(loop: worker.loop, fd: fd, readBuffer: worker.readBuffer, tls: tls)
        tcp.delegate = self
        // Cleartext HTTP/2 is recognised by its preface; over TLS, ALPN decides.
        sniffingForHTTP2Preface = listener.config.http2 && tls == nil
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
            self.worker.stats.rejected(by: .headerReadTimeout)
            self.sendPlainError(408, "request headers not received within \(self.limits.headerReadTimeout)")
        }
    }

    /// Lazy like the idle timer: armed once per incomplete request body, re-armed for the remaining time when
    /// bytes arrived in between.
    private func armBodyTimer() {
        lastBodyActivity = worker.loop.now
        guard bodyTimer == nil, limits.requestBodyTimeout > .zero else { return }
        scheduleBodyCheck(afterNanos: UInt64(limits.requestBodyTimeout.nanoseconds))
    }

    private func scheduleBodyCheck(afterNanos delay: UInt64) {
        bodyTimer = worker.loop.scheduleTimer(afterNanos: delay) { [weak self] in
            guard let self else { return }
            self.bodyTimer = nil
            // Only a body still arriving counts: a finished request (a quiet server stream) is never cut.
            guard self.inRequest, !self.requestComplete, !self.closed, self.upgraded == nil else { return }
            let limit = UInt64(self.limits.requestBodyTimeout.nanoseconds)
            let quiet = self.worker.loop.now &- self.lastBodyActivity
            if quiet < limit { self.scheduleBodyCheck(afterNanos: limit - quiet); return }
            self.requestBodyTimedOut()
        }
    }

    private func requestBodyTimedOut() {
        let why = "request body stalled for \(limits.requestBodyTimeout)"
        Log.debug("http1", why)
        worker.stats.requestBodyTimeoutsTotal.add(1)
        if let exchange {
            if exchange.responseStarted {
                // The page already has the response head: end the call with a status it can read (the upstream
                // stream is reset with CANCEL), then close, since the request body will never be complete.
                keepAlive = false
                discardingBody = true
                exchange.requestFailed(.unavailable, why)
                return
            }
            self.exchange = nil
            exchange.downstreamClosed()  // RST_STREAM(CANCEL) upstream
        }
        sendPlainError(408, why)
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
        if sniffingForHTTP2Preface {
            sniffForHTTP2Preface(bytes)
            return
        }
        process(bytes)
    }

    /// Feeds the parser until it asks for more data. `.end` often comes from a call that consumes nothing (a
    /// body ending exactly at the end of a read), so the loop runs on an empty remainder too.
    private func process(_ bytes: UnsafeRawBufferPointer) {
        var offset = 0
        while !closed && !closing && upgraded == nil {
            if (inRequest && requestComplete) || waitingForOutputDrain {
                // A pipelined request: keep it until the current response is done and has (mostly) left.
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
                // Armed only when a body is still incomplete after a read: a request that arrives whole (every
                // unary call from a browser) costs no timer.
                if inRequest && !requestComplete && !discardingBody { armBodyTimer() }
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
                lastBodyActivity = worker.loop.now
                if !discardingBody, let exchange {
                    exchange.requestBody(UnsafeRawBufferPointer(rebasing: input[range]))
                }
            case .end:
                requestComplete = true
                worker.loop.cancelTimer(bodyTimer)
                bodyTimer = nil
                if !discardingBody, let exchange { exchange.requestEnd() }
                if !inRequest { readyForNextRequest() }
            }
        }
    }

    private func parseFailed(_ error: HTTP1ParseError) {
        worker.stats.httpLocalErrorsTotal.add(1)
        if error.status == 431 { worker.stats.rejected(by: .requestHeadersSize) }
        if error.status == 413 { worker.stats.rejected(by: .requestBodySize) }
        Log.debug("http1", "bad request: \(error.status) \(error.reason)")
        if let exchange {
            // Mid-body error on a proxied call: the request cannot be completed, and the HTTP framing of the
            // connection is lost. The call ends with a gRPC status the page can read, then the connection closes.
            keepAlive = false
            discardingBody = true
            let code: GRPCStatusCode = error.status == 413 ? .resourceExhausted : .internalError
            exchange.requestFailed(code, "malformed request body: \(error.reason)")
            if self.exchange != nil { self.exchange = nil; exchange.downstreamClosed(); close() }
            return
        }
        sendPlainError(error.status, error.reason)
    }

    private func onHead(_ parsedHead: HTTPRequestHead) {
        var head = parsedHead
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
        let decision = RequestAdmission.decide(&head, listener: listener, worker: worker, allowNativeGRPC: false)
        currentHead = head  // with a $httpHeaders parameter's fields merged in
        switch decision {
        case .preflight(let headers):
            sendLocalResponse(status: 204, headers: headers + [("Content-Length", "0")], body: [])
        case .plainError(let status, let message, let extra):
            sendPlainError(status, message, extra: extra)
        case .grpcLocalReply(let code, let message, let encoding, let cors):
            sendGRPCLocalReply(code, message, encoding: encoding, head: head, corsHeaders: cors)
        case .grpcWeb(let route, let pool, let encoding, let fields, let cors):
            worker.stats.grpcWebCallsTotal.add(1)
            let call = GRPCWebCall(connection: self, head: head, fields: fields, route: route, pool: pool, requestEncoding: encoding, corsHeaders: cors)
            exchange = call
            call.start()
        case .nativeGRPC, .nativeLocalReply:
            // Not decided over HTTP/1.1 (allowNativeGRPC is false): native gRPC needs HTTP/2.
            sendPlainError(415, "native gRPC needs HTTP/2")
        }
    }

    private func startWebSocket(_ head: HTTPRequestHead) {
        let call = WebSocketCall(transport: HTTP1WebSocketTransport(connection: self), head: head)
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
        reportLocalReply(head, transport: encoding == .text ? .grpcWebText : .grpcWeb, code, message)
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
        worker.loop.deferUntilEndOfIteration { [self] in
            tcp.uncork()
            // Above the high watermark: stop reading this socket until its queue drains (a client that never
            // reads must not make the proxy queue answers to everything it sends: pongs, pipelined requests).
            if !tcp.isClosed && tcp.bufferedBytes > limits.outputBufferLimit && readPauseReasons & Self.pausedForOutput == 0 {
                worker.stats.outputLimitPausesTotal.add(1)
                pauseReading(Self.pausedForOutput)
            }
        }
    }
    var bufferedResponseBytes: Int { tcp.bufferedBytes }

    /// The call ended inside a message: a trailer frame now would be read as part of that message, so the
    /// response is cut instead, in a way every client sees as a failure: no terminating chunk before the close
    /// (chunked), or a reset (a close-delimited HTTP/1.0 body, where a plain close would look complete).
    func cutResponse(chunked: Bool) {
        worker.stats.responsesAbortedMidMessageTotal.add(1)
        keepAlive = false
        if !chunked {
            tcp.abort()
            connectionGone()
        }
    }
    var connectionWillClose: Bool { !keepAlive }

    /// A close-delimited response: the connection ends with it.
    func closeAfterThisResponse() { keepAlive = false }

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
        worker.loop.cancelTimer(bodyTimer)
        bodyTimer = nil
        resumeReading(Self.pausedForUpstream)
        if !keepAlive || worker.draining || closeAfterResponse {
            // Requests already read after this one are dropped unprocessed: the client retries them elsewhere.
            closing = true
            pendingInput = []
            tcp.closeAfterWrites()
            if tcp.isClosed { connectionGone() }
            return
        }
        if !requestComplete { return }  // the rest of the body is discarded first; `.end` continues
        readyForNextRequest()
    }

    /// Both the response and the request body are done: wait for (or process) the next request, once the queue
    /// of responses is below the high watermark.
    private func readyForNextRequest() {
        armIdleTimer()
        if tcp.bufferedBytes > limits.outputBufferLimit {
            waitingForOutputDrain = true
            pauseReading(Self.pausedForPipelining)
            return
        }
        waitingForOutputDrain = false
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
        resumeReading(Self.pausedForOutput)
        if let upgraded { upgraded.didDrain(); return }
        exchange?.downstreamDrained()
        if waitingForOutputDrain && !inRequest && !closing { readyForNextRequest() }
    }

    func connectionDidFinishTLSHandshake(_ connection: TCPConnection) {
        worker.stats.downstreamTLSHandshakesTotal.add(1)
        if connection.negotiatedProtocol == "h2" { switchToHTTP2(initialBytes: []) }
    }

    func connectionDidClose(_ connection: TCPConnection, errno: Int32) {
        if let failure = connection.tlsFailure { countTLSFailure(failure) }
        if let upgraded { self.upgraded = nil; upgraded.didClose() }
        if let exchange {
            self.exchange = nil
            worker.stats.cancelledByClientTotal.add(1)
            exchange.downstreamClosed()
        }
        connectionGone()
    }

    /// Closes the socket; an active exchange is told the browser is gone.
    /// `reset` closes with a RST instead of a FIN: the overload manager resetting a connection that holds one of the
    /// largest queues (what it had queued is dropped, not sent).
    func close(reset: Bool = false) {
        guard !closed else { return }
        if reset { tcp.abort() }
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
        // Lingering: a call refused at once (an edge rule, on the metadata message) ends while the client is still
        // sending its messages; closing with those unread would send a RST that can destroy the status block and
        // close frame the client has not read yet.
        tcp.closeLingering()
        if tcp.isClosed { connectionGone() } else { closeAfterResponse = true }
    }

    func processAsHTTP1(_ bytes: UnsafeRawBufferPointer) { process(bytes) }

    /// The socket now belongs to an HTTP/2 connection: stop every timer, without counting a close.
    func retireForProtocolSwitch() {
        closed = true
        worker.loop.cancelTimer(idleTimer)
        worker.loop.cancelTimer(headerTimer)
        worker.loop.cancelTimer(bodyTimer)
    }

    private func connectionGone() {
        guard !closed else { return }
        closed = true
        worker.loop.cancelTimer(idleTimer)
        worker.loop.cancelTimer(headerTimer)
        worker.loop.cancelTimer(bodyTimer)
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
