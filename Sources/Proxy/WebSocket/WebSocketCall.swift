import Config
import EventLoop
import GRPCWebCodec
import HTTP1Codec
import Upstream
import WebSocketCodec

/// One client-streaming or bidi call over WebSocket in improbable-eng's `grpc-websockets` subprotocol
/// (PROTOCOLS.md §3.1), joined to one upstream HTTP/2 stream.
///
/// Browser → proxy (binary messages): first the metadata block, then `0x00` + gRPC frame bytes (frames may span
/// messages), then a single `0x01` to half-close. Proxy → browser: response headers as one `0x80` frame
/// message, every upstream DATA payload as one binary message at once, trailers as a `0x80` frame message, then
/// close 1000. A call that fails before headers gets a single `0x80` block with grpc-status (trailers-only).
///
/// The same over HTTP/1.1 (an upgraded connection) and HTTP/2 (an RFC 8441 extended CONNECT stream): the
/// `WebSocketTransport` carries the byte stream and answers the handshake in its protocol's form.
final class WebSocketCall: UpgradedConnectionHandler, UpstreamStreamDelegate {
    private let transport: any WebSocketTransport
    private let head: HTTPRequestHead
    private let worker: WorkerContext
    private let settings: WebSocketSettings
    private var decoder: WebSocketFrameDecoder
    private var events: [WebSocketEvent] = []
    private var route: RouteConfig?
    private var stream: UpstreamStream?
    private var requestScanner: GRPCFrameScanner
    private var responseScanner: GRPCFrameScanner
    private var metadataReceived = false
    private var halfClosed = false
    private var headersSent = false
    private var callFinished = false
    private var socketClosing = false
    private var counted = false
    /// What the edge rules granted the call (header edits, a concurrency slot): released when it ends.
    private var edge = EdgeCallGrant()
    private var deadlineTimer: TimerHandle?
    private var deadlineNanos: Int64?
    private var pingTimer: TimerHandle?
    private var idleTimer: TimerHandle?
    private var lastReceive: UInt64 = 0
    private var pendingConsume = 0
    private var nonGRPCStatus: Int?
    private var nonGRPCBody: [UInt8] = []
    /// The latest ping's payload, answered when the output queue drains (see `answerPing`).
    private var pendingPong: [UInt8]?
    /// What the operator sees of the call, delivered once when an accepted call ends (`finishAccounting`).
    private var summary: CallSummary
    static let subprotocol = "grpc-websockets"

    init(transport: any WebSocketTransport, head: HTTPRequestHead) {
        self.transport = transport
        self.head = head
        self.worker = transport.worker
        self.settings = transport.worker.config.websocket
        decoder = WebSocketFrameDecoder(limits: WebSocketLimits(maxFrameSize: settings.maxFrameSize, maxMessageSize: settings.maxMessageSize))
        let limits = transport.worker.config.limits
        requestScanner = GRPCFrameScanner(maxMessageSize: limits.maxMessageSize, label: "request")
        responseScanner = GRPCFrameScanner(maxMessageSize: limits.maxMessageSize, label: "response")
        summary = CallSummary(listener: transport.listener.config.name, path: head.path, transport: .websocket,
                              httpVersion: transport.httpVersion, downstreamAddress: transport.downstreamAddress,
                              userAgent: nil)
    }

    // MARK: Handshake

    /// Validates the handshake and accepts it (101 / 200), or answers an HTTP error and returns nil.
    func start() -> (any UpgradedConnectionHandler)? {
        let listener = transport.listener
        let route = listener.routes.match(path: head.path, headers: head.headers)
        let enabled = route?.websocket ?? listener.config.websocket
        guard enabled else {
            refuse(403, "WebSocket calls are disabled on this \(route?.websocket == false ? "route" : "listener")")
            return nil
        }
        let upgrade: WebSocketUpgradeRequest
        do {
            upgrade = try transport.validateHandshake(head)
        } catch {
            refuse(error.status, error.reason, extra: error.status == 426 ? [("Sec-WebSocket-Version", "13")] : [])
            return nil
        }
        guard upgrade.subprotocols.contains(where: { $0.lowercased() == Self.subprotocol }) else {
            refuse(400, "gRPC over WebSocket requires the \"\(Self.subprotocol)\" subprotocol (Sec-WebSocket-Protocol)")
            return nil
        }
        // WebSocket has no CORS: the Origin is checked here against the same allow list.
        let policy = route?.cors ?? listener.config.cors
        if let origin = upgrade.origin {
            let allowed = policy?.allows(origin: origin) ?? CORSResponder.isSameOrigin(origin, host: head.headers["host"])
            guard allowed else {
                refuse(403, "origin \(origin) is not allowed to open WebSocket calls")
                return nil
            }
        } else if settings.requireOrigin {
            refuse(403, "WebSocket calls require an Origin header")
            return nil
        }
        self.route = route
        if let route {
            summary.routed(route.name, cluster: route.cluster)
            worker.metrics.started(&summary)
        }
        transport.acceptHandshake(upgrade, subprotocol: Self.subprotocol)
        worker.stats.webSocketCallsTotal.add(1)
        worker.stats.callsActive.add(1)
        counted = true
        lastReceive = worker.loop.now
        armPing()
        armIdle()
        return self
    }

    private func refuse(_ status: Int, _ message: String, extra: [(String, String)] = []) {
        transport.refuseHandshake(status: status, message: message, extra: extra)
    }

    // MARK: Incoming frames

    func didRead(_ bytes: UnsafeRawBufferPointer) {
        guard !socketClosing else { return }
        lastReceive = worker.loop.now
        events.removeAll(keepingCapacity: true)
        do {
            try decoder.decode(bytes, into: &events)
        } catch {
            // Process what was complete before the error, then close with the decoder's code.
            handle(events)
            protocolFailure(error.closeCode, error.reason)
            return
        }
        handle(events)
    }

    private func handle(_ events: [WebSocketEvent]) {
        for e in events {
            if socketClosing { return }
            switch e {
            case .binary(let payload): onBinary(payload)
            case .text: protocolFailure(WebSocketCloseCode.unsupportedData, "grpc-websockets carries binary messages only")
            case .ping(let p): answerPing(p)
            case .pong: break
            case .close(let code, _):
                // The browser ended the call: cancel upstream, answer the close, then close.
                cancelUpstream()
                closeSocket(code: code == nil ? WebSocketCloseCode.normal : code!, reason: "")
            }
        }
    }

    private func onBinary(_ payload: [UInt8]) {
        if !metadataReceived {
            metadataReceived = true
            startUpstream(metadataBlock: payload)
            return
        }
        if callFinished { return }
        guard let first = payload.first else { return }
        if first == 0x01 && payload.count == 1 {
            guard !halfClosed else { return }
            halfClosed = true
            do { try requestScanner.finish() } catch {
                failCall(error.status, error.message)
                return
            }
            stream?.endBody()
            return
        }
        guard first == 0x00 else {
            failCall(.invalidArgument, "unknown grpc-websockets message type 0x\(String(first, radix: 16)) (0x00 data, 0x01 end of request)")
            return
        }
        guard !halfClosed else {
            failCall(.invalidArgument, "request data after the end-of-request message")
            return
        }
        guard let stream, payload.count > 1 else { return }
        let scanError: GRPCFrameError? = payload.withUnsafeBytes { raw in
            let body = UnsafeRawBufferPointer(rebasing: raw[1...])
            do throws(GRPCFrameError) {
                try requestScanner.scan(body)
            } catch {
                return error
            }
            summary.requestBytes &+= body.count
            stream.sendBody(body)
            return nil
        }
        if let scanError {
            worker.stats.count(scanError)
            failCall(scanError.status, scanError.message)
            return
        }
        if stream.bufferedRequestBytes > worker.config.limits.writeBufferLimit {
            transport.pauseInput()
        }
    }

    private func startUpstream(metadataBlock: [UInt8]) {
        let metadata: [(String, String)]
        do {
            metadata = try GRPCWebSocketsMetadata.parse(metadataBlock, maxSize: worker.config.limits.maxRequestHeadersSize,
                                                        maxCount: worker.config.limits.maxHeadersCount)
        } catch {
            failCall(.invalidArgument, "bad request metadata: \(error.reason)")
            return
        }
        let identity = summary.identify(metadata.map { (name: $0.0, value: $0.1) } + head.headers.fields, random: &worker.idRandom)
        guard let route else {
            failCall(.unimplemented, "no route for \(head.path)")
            return
        }
        if let ct = metadata.first(where: { $0.0 == "content-type" })?.1, GRPCWebContentType.classify(ct) == .text {
            failCall(.invalidArgument, "grpc-web-text is not supported over WebSocket: use application/grpc-web+proto")
            return
        }
        guard let pool = worker.pools[route.cluster] else {
            failCall(.unavailable, "cluster \(route.cluster) not found")
            return
        }
        if worker.overload.level >= .shedCalls {
            worker.stats.overloadCallsShedTotal.add(1)
            failCall(.unavailable, worker.overload.description)
            return
        }
        requestScanner = GRPCFrameScanner(maxMessageSize: route.maxRequestBytes ?? worker.config.limits.maxMessageSize, label: "request")
        var deadline: Int64? = metadata.first(where: { $0.0 == "grpc-timeout" }).flatMap { GRPCTimeout.parse($0.1) }
        if route.timeout.nanoseconds > 0 { deadline = min(deadline ?? Int64.max, route.timeout.nanoseconds) }
        deadlineNanos = deadline
        if let deadline {
            deadlineTimer = worker.loop.scheduleTimer(afterNanos: UInt64(max(0, deadline))) { [weak self] in
                guard let self, !self.callFinished else { return }
                self.worker.stats.deadlineExceededTotal.add(1)
                self.failCall(.deadlineExceeded, "deadline of \(deadline / 1_000_000) ms exceeded")
            }
        }
        if let rejection = admitAtEdge(route: route, metadata: metadata, requestID: identity.requestID) {
            failCall(rejection.code, rejection.message, metadata: rejection.metadata)
            return
        }
        let contentType = metadata.first(where: { $0.0 == "content-type" })?.1
        var headers = GRPCHeaderTranslation.upstreamRequestHeaders(
            path: head.target, authority: head.headers["host"] ?? route.cluster, contentType: contentType,
            metadata: metadata.map { (name: $0.0, value: $0.1) }, timeoutNanos: deadline,
            forwardedClientCert: transport.forwardedClientCertificate)
        identity.apply(to: &headers)
        edge.applyUpstream(to: &headers)
        stream = pool.startStream(headers: headers, delegate: self)
    }

    // MARK: Upstream events

    func upstreamDidReceiveHeaders(_ stream: UpstreamStream, _ headers: [(String, String)], endStream: Bool) {
        guard !callFinished else { return }
        if !GRPCHeaderTranslation.isGRPCResponse(headers) {
            nonGRPCStatus = Int(headers.first { $0.0 == ":status" }?.1 ?? "") ?? 0
            if endStream { finishNonGRPC() }
            return
        }
        var fields = GRPCHeaderTranslation.downstreamResponseHeaders(headers, endStream: endStream)
        edge.applyResponseHeaders(to: &fields, trailersOnly: endStream)
        if endStream {
            endCall(with: fields)
            return
        }
        headersSent = true
        sendBlock([("content-type", "application/grpc-web+proto")] + fields)
    }

    func upstreamDidReceiveData(_ stream: UpstreamStream, _ bytes: UnsafeRawBufferPointer) {
        guard !callFinished, !socketClosing else { stream.consume(bytes.count); return }
        if nonGRPCStatus != nil {
            let limit = UpstreamFailureStatus.nonGRPCBodyLimit
            if nonGRPCBody.count < limit { nonGRPCBody.append(contentsOf: bytes.prefix(limit - nonGRPCBody.count)) }
            stream.consume(bytes.count)
            return
        }
        do { try responseScanner.scan(bytes) } catch {
            stream.consume(bytes.count)
            worker.stats.count(error)
            failCall(error.status, error.message)
            return
        }
        summary.responseBytes &+= bytes.count
        var header: [UInt8] = []
        WebSocketFrameEncoder.writeFrameHeader(opcode: .binary, length: bytes.count, into: &header)
        header.withUnsafeBytes { transport.send(parts: [$0, bytes]) }
        if !transport.hasQueuedOutput { stream.consume(bytes.count) } else { pendingConsume += bytes.count }
    }

    func upstreamDidReceiveTrailers(_ stream: UpstreamStream, _ trailers: [(String, String)]) {
        guard !callFinished, nonGRPCStatus == nil else { return }
        var fields = GRPCHeaderTranslation.downstreamResponseHeaders(trailers)
        edge.applyResponseTrailers(to: &fields)
        endCall(with: fields)
    }

    func upstreamDidClose(_ stream: UpstreamStream, failure: UpstreamFailure?) {
        if pendingConsume > 0 { stream.consume(pendingConsume); pendingConsume = 0 }
        guard !callFinished else { return }
        guard let failure else {
            if nonGRPCStatus != nil { finishNonGRPC() } else { failCall(.internalError, "upstream ended the stream without trailers", cancel: false) }
            return
        }
        worker.stats.upstreamFailuresTotal.add(1)
        let (code, message) = UpstreamFailureStatus.status(for: failure)
        failCall(code, message, cancel: false)
    }

    func upstreamRequestBodyDrained(_ stream: UpstreamStream) {
        transport.resumeInput()
    }

    private func finishNonGRPC() {
        worker.stats.upstreamFailuresTotal.add(1)
        let (code, message) = UpstreamFailureStatus.status(forHTTPStatus: nonGRPCStatus ?? 0, body: nonGRPCBody)
        failCall(code, message, cancel: false)
    }

    // MARK: Endings

    /// Ends the call with a status produced by the proxy.
    /// `metadata`: extra fields next to the status (an edge rule's retry delay).
    private func failCall(_ code: GRPCStatusCode, _ message: String, cancel: Bool = true, metadata: [(String, String)] = []) {
        guard !callFinished else { return }
        if cancel { cancelUpstream() }
        Log.debug("websocket", "\(head.path): \(code.rawValue) \(message)")
        endCall(with: GRPCHeaderTranslation.statusFields(code, message) + metadata)
    }

    /// Runs the edge rules (JWT, rate limits, header rules) once the metadata message is known; keeps the grant.
    private func admitAtEdge(route: RouteConfig, metadata: [(String, String)], requestID: String) -> EdgeRejection? {
        let request = EdgeCallRequest(route: route, listenerName: transport.listener.config.name, head: head,
                                      webSocketMetadata: metadata, downstreamAddress: transport.downstreamAddress,
                                      downstreamHost: transport.downstreamHost,
                                      secure: transport.listener.config.tls != nil,
                                      requestID: requestID)
        return worker.edge.admit(request, grant: &edge)
    }

    /// Sends the final 0x80 block (trailers, or the only block for trailers-only) and closes with 1000.
    private func endCall(with fields: [(String, String)]) {
        guard !callFinished else { return }
        finishAccounting(fields: fields)
        if socketClosing { return }
        if !responseScanner.isAtMessageBoundary {
            // A 0x80 block now would be read as the rest of the unfinished message: close with 1011 instead so
            // the client reports a failure, with the status in the close reason for people reading logs.
            worker.stats.responsesAbortedMidMessageTotal.add(1)
            let status = fields.first { $0.0 == "grpc-status" }?.1 ?? "2"
            closeSocket(code: WebSocketCloseCode.internalError, reason: "call ended inside a message (grpc-status \(status))")
            return
        }
        sendBlock(fields)
        closeSocket(code: WebSocketCloseCode.normal, reason: "")
    }

    private func finishAccounting(fields: [(String, String)]) {
        guard !callFinished else { return }
        summary.end(fields: fields)
        accountingDone()
    }

    /// The client left (or broke the protocol) before a status: CANCELLED, with `why` for the log.
    private func finishAccounting(cancelled why: String) {
        guard !callFinished else { return }
        summary.end(status: GRPCStatusCode.cancelled.rawValue, encodedMessage: GRPCMessageEncoding.percentEncode(why))
        accountingDone()
    }

    private func accountingDone() {
        callFinished = true
        edge.finish()
        worker.loop.cancelTimer(deadlineTimer)
        deadlineTimer = nil
        if counted {
            counted = false
            worker.stats.callsActive.subtract(1)
            worker.stats.recordStatus(summary.grpcStatus)
            summary.requestMessages = requestScanner.messageCount
            summary.responseMessages = responseScanner.messageCount
            if let endpoint = stream?.endpointAddress { summary.endpoint = endpoint }
            worker.callFinished(summary)
        }
    }

    private func cancelUpstream() {
        if let stream, !stream.isFinished { stream.cancel() }
    }

    /// A WebSocket-level error: close with its code; the call, if any, ends as cancelled upstream.
    private func protocolFailure(_ code: UInt16, _ reason: String) {
        if code == WebSocketCloseCode.messageTooBig { worker.stats.rejected(by: .webSocketMessageSize) }
        Log.debug("websocket", "\(head.path): closing with \(code): \(reason)")
        cancelUpstream()
        finishAccounting(cancelled: reason)
        closeSocket(code: code, reason: reason)
    }

    private func closeSocket(code: UInt16, reason: String) {
        guard !socketClosing else { return }
        socketClosing = true
        worker.loop.cancelTimer(pingTimer)
        worker.loop.cancelTimer(idleTimer)
        var out: [UInt8] = []
        WebSocketFrameEncoder.writeClose(code: code, reason: reason, into: &out)
        transport.send(out)
        transport.finish()
    }

    // MARK: Writing

    private func sendBlock(_ fields: [(String, String)]) {
        var frame: [UInt8] = []
        GRPCTrailers.encodeFrame(fields, into: &frame)
        frame.withUnsafeBytes { sendFrame(.binary, $0) }
    }

    private func sendFrame(_ opcode: WebSocketOpcode, _ payload: [UInt8]) {
        payload.withUnsafeBytes { sendFrame(opcode, $0) }
    }

    private func sendFrame(_ opcode: WebSocketOpcode, _ payload: UnsafeRawBufferPointer) {
        var out: [UInt8] = []
        out.reserveCapacity(payload.count + 10)
        WebSocketFrameEncoder.writeFrame(opcode: opcode, payload: payload, into: &out)
        transport.send(out)
    }

    // MARK: Keep-alive

    /// RFC 6455 §5.5.3 lets an endpoint answer only the most recent ping. While earlier output is still queued,
    /// only the latest payload is kept and one pong goes out when the queue drains: a ping flood from a client that
    /// never reads costs one pending pong, not a queue of them.
    private func answerPing(_ payload: [UInt8]) {
        if pendingPong == nil, !transport.hasQueuedOutput {
            sendFrame(.pong, payload)
        } else {
            pendingPong = payload
        }
    }

    /// Server pings keep long, quiet streams alive through intermediaries; a browser answers them with pongs.
    private func armPing() {
        guard settings.pingInterval > .zero else { return }
        pingTimer = worker.loop.scheduleTimer(after: settings.pingInterval) { [weak self] in
            guard let self, !self.socketClosing else { return }
            self.sendFrame(.ping, [])
            self.armPing()
        }
    }

    /// Nothing received (not even a pong) for idle_timeout: the peer is gone.
    private func armIdle() {
        guard settings.idleTimeout > .zero else { return }
        let idleNanos = UInt64(settings.idleTimeout.nanoseconds)
        idleTimer = worker.loop.scheduleTimer(after: settings.idleTimeout) { [weak self] in
            guard let self, !self.socketClosing else { return }
            if self.worker.loop.now &- self.lastReceive >= idleNanos {
                self.protocolFailure(WebSocketCloseCode.goingAway, "idle for \(self.settings.idleTimeout)")
            } else {
                self.armIdle()
            }
        }
    }

    // MARK: Socket events

    func didReadEOF() { socketGone() }
    func didClose() { socketGone() }
    /// The HTTP/2 stream was reset or its connection went away (the stream counted the client's cancel).
    func streamClosed() { socketGone(countCancel: false) }

    func didDrain() {
        if let pong = pendingPong, !socketClosing {
            pendingPong = nil
            sendFrame(.pong, pong)
        }
        if pendingConsume > 0, let stream {
            let n = pendingConsume
            pendingConsume = 0
            stream.consume(n)
        }
    }

    private func socketGone(countCancel: Bool = true) {
        // The browser vanished (with or without a close frame): RST_STREAM(CANCEL) upstream at once.
        if !callFinished && countCancel { worker.stats.cancelledByClientTotal.add(1) }
        cancelUpstream()
        finishAccounting(cancelled: CallSummary.clientCancelledMessage)
        socketClosing = true
        worker.loop.cancelTimer(pingTimer)
        worker.loop.cancelTimer(idleTimer)
        transport.abort()
    }

    func drain() {
        // Long streams keep running until they end or the drain timeout stops the process.
    }
}
