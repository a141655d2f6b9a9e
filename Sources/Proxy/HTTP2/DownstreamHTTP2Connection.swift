import Config
import EventLoop
import HTTP1Codec
import HTTP2
import Transport

/// A browser's or native gRPC client's HTTP/2 connection (ALPN `h2`, or the prior-knowledge preface in cleartext),
/// served by an nghttp2 server session. Every request is a stream with its own call: gRPC-Web calls as over
/// HTTP/1.1, native gRPC passed through, CORS preflights answered here. Frames leave once per loop iteration
/// (coalesced flush, as on the upstream side).
///
/// Flow control both ways: the connection window goes back as DATA arrives (one stalled stream must not stall the
/// others); a stream's window only when its call has handed the bytes upstream (`DownstreamHTTP2Stream`).
/// Responses are pulled by nghttp2 within the client's windows; the socket's queue is held under
/// `limits.output_buffer_limit`, above which the connection stops reading until it drains.
final class DownstreamHTTP2Connection: TCPConnectionDelegate, HTTP2SessionDelegate, DownstreamConnection {
    let tcp: TCPConnection
    /// The worker outlives its connections: unowned(unsafe), no reference counting on each access.
    unowned(unsafe) let worker: WorkerContext
    let listener: ListenerContext
    let limits: HTTP2Limits
    private(set) var session: HTTP2Session!
    private var streams: [Int32: DownstreamHTTP2Stream] = [:]
    private var block = HeaderBlock()
    private var flushScheduled = false
    private var processing = false
    private var closed = false
    private var draining = false
    private var goawaySent = false
    /// The highest stream a call was started on: a GOAWAY's last-stream-id (a stream whose headers never
    /// completed was not acted on).
    private var lastOpenedStreamID: Int32 = 0
    private var peerSentGoaway = false
    private var readPausedForOutput = false
    private var idleTimer: TimerHandle?
    private var lastActivity: UInt64 = 0
    /// Abuse accounting over `limits.abuseWindow` (rapid reset, control-frame floods).
    private var abuseWindowStart: UInt64 = 0
    private var resetsInWindow = 0
    private var controlFramesInWindow = 0
    /// The client's address, for call summaries: one getpeername per connection, only if a call asks.
    lazy var downstreamAddress: String = tcp.peerAddressText()
    lazy var downstreamHost: String = EdgeCallRequest.host(of: downstreamAddress)

    /// Takes over `tcp` (already past its TLS handshake, if any); `start` sends our SETTINGS.
    init(tcp: TCPConnection, worker: WorkerContext, listener: ListenerContext) {
        self.tcp = tcp
        self.worker = worker
        self.listener = listener
        self.limits = worker.config.limits.http2
        session = HTTP2Session(role: .server, delegate: self)
        session.submitSettings([
            (.maxConcurrentStreams, UInt32(limits.maxConcurrentStreams)),
            (.initialWindowSize, UInt32(limits.initialStreamWindow)),
            (.maxHeaderListSize, UInt32(limits.maxHeaderListSize)),
            // RFC 8441: WebSocket calls as extended CONNECT streams of this connection.
            (.enableConnectProtocol, 1),
        ])
        session.setConnectionWindow(limits.initialConnectionWindow)
        tcp.delegate = self
        worker.stats.downstreamHTTP2ConnectionsTotal.add(1)
        abuseWindowStart = worker.loop.now
    }

    /// `initialBytes`: what the HTTP/1.1 side read before it saw the connection preface (cleartext).
    func start(initialBytes: [UInt8]) {
        armIdleTimer()
        if !initialBytes.isEmpty {
            initialBytes.withUnsafeBytes { connectionDidRead(tcp, $0) }
        } else {
            flush()
        }
    }

    // MARK: Input

    func connectionDidConnect(_ connection: TCPConnection) {}

    func connectionDidRead(_ connection: TCPConnection, _ bytes: UnsafeRawBufferPointer) {
        guard !closed else { return }
        processing = true
        let error = session.receive(bytes)
        processing = false
        if let error {
            // A fatal error (a CONTINUATION flood, ACKs the client does not read, a callback failure): nghttp2 has
            // not queued a GOAWAY for these, so one is sent here before the close.
            if error.isFlood { worker.stats.http2FloodGoawaysTotal.add(1) } else { worker.stats.http2ProtocolErrorsTotal.add(1) }
            Log.debug("http2", "connection error: \(error)")
            endConnection(errorCode: error.isFlood ? HTTP2ErrorCode.enhanceYourCalm : HTTP2ErrorCode.protocolError)
            return
        }
        flush()
    }

    func connectionDidReadEOF(_ connection: TCPConnection) {
        // The client is gone: every stream's call is cancelled upstream.
        close()
    }

    func connectionDidDrainWrites(_ connection: TCPConnection) {
        if readPausedForOutput {
            readPausedForOutput = false
            tcp.resumeReading()
        }
        flush()
    }

    func connectionDidClose(_ connection: TCPConnection, errno: Int32) {
        close()
    }

    // MARK: HTTP2SessionDelegate

    func sessionDidBeginHeaders(streamID: Int32) {
        block.begin(streamID)
    }

    func sessionDidReceiveHeader(streamID: Int32, name: UnsafeBufferPointer<UInt8>, value: UnsafeBufferPointer<UInt8>) -> Bool {
        // Counted before anything is copied (HPACK bombs cost a counter, not memory).
        guard block.add(streamID: streamID, name: name, value: value, limit: limits.maxHeaderListSize) else {
            worker.stats.http2HeaderListTooLargeTotal.add(1)
            Log.debug("http2", "stream \(streamID): header list over \(limits.maxHeaderListSize) bytes; stream reset")
            return false
        }
        return true
    }

    func sessionDidReceiveFrame(_ frame: HTTP2Frame) {
        lastActivity = worker.loop.now
        switch frame.type {
        case .headers:
            guard let fields = block.take(frame.streamID) else { return }
            if let stream = streams[frame.streamID] {
                // Trailers from the client (native gRPC may send them): they end the request.
                if frame.endStream { stream.requestEnded() }
                return
            }
            guard frame.isRequestHeaders else { return }
            openStream(frame.streamID, fields: fields, endStream: frame.endStream)
        case .data:
            if frame.length == 0 && !frame.endStream { countControlFrame() }
            if frame.endStream { streams[frame.streamID]?.requestEnded() }
        case .rstStream:
            countReset()
        case .ping, .settings, .priority, .windowUpdate:
            countControlFrame()
        case .goaway:
            // The client will open no more streams; the ones it has finish.
            peerSentGoaway = true
            draining = true
            closeIfDone()
        default:
            break
        }
    }

    func sessionDidReceiveData(streamID: Int32, _ bytes: UnsafeRawBufferPointer) {
        // The connection window is shared by every stream: it goes back on receipt.
        session.consumeConnection(bytes.count)
        guard let stream = streams[streamID] else {
            session.consumeStream(streamID, bytes.count)
            return
        }
        stream.requestBody(bytes)
    }

    func sessionDidCloseStream(streamID: Int32, errorCode: UInt32) {
        block.discard(streamID)
        guard let stream = streams.removeValue(forKey: streamID) else { return }
        stream.closed(errorCode: errorCode)
        armIdleTimer()
        closeIfDone()
    }

    func sessionReadBody(streamID: Int32, into buffer: UnsafeMutableRawBufferPointer) -> HTTP2BodyChunk {
        guard let stream = streams[streamID] else { return .bytes(0, end: true) }
        return stream.readResponseBody(into: buffer)
    }

    func sessionDidReceiveInvalidFrame(_ frame: HTTP2Frame, error: Int32) {
        // nghttp2 answers these itself (RST_STREAM or GOAWAY).
        if error == HTTP2Session.refusedStreamError {
            // A stream over max_concurrent_streams: refused, and counted like a reset (opening and dropping
            // streams is the same lever).
            worker.stats.http2StreamsRefusedTotal.add(1)
            countReset()
        } else {
            countControlFrame()
        }
    }

    // MARK: Streams

    private func openStream(_ id: Int32, fields: [(String, String)], endStream: Bool) {
        worker.stats.http2StreamsTotal.add(1)
        lastOpenedStreamID = max(lastOpenedStreamID, id)
        worker.loop.cancelTimer(idleTimer)
        idleTimer = nil
        let stream = DownstreamHTTP2Stream(id: id, connection: self)
        streams[id] = stream
        stream.start(fields: fields, endStream: endStream)
    }

    /// The client's certificate, verified, for `x-forwarded-client-cert`.
    var forwardedClientCertificate: String? {
        tcp.peerCertificate.map(ForwardedClientCertificate.headerValue)
    }

    // MARK: Abuse limits

    private func rollAbuseWindow() {
        let now = worker.loop.now
        if now &- abuseWindowStart >= UInt64(limits.abuseWindow.nanoseconds) {
            abuseWindowStart = now
            resetsInWindow = 0
            controlFramesInWindow = 0
        }
    }

    /// Rapid reset (CVE-2023-44487): opening streams and resetting them at once costs the client nothing and
    /// the proxy an upstream call each.
    private func countReset() {
        guard !goawaySent else { return }
        rollAbuseWindow()
        resetsInWindow += 1
        if resetsInWindow > limits.maxResetsPerWindow {
            calmDown(counter: worker.stats.http2RapidResetGoawaysTotal, "more than \(limits.maxResetsPerWindow) reset streams")
        }
    }

    private func countControlFrame() {
        guard !goawaySent else { return }
        rollAbuseWindow()
        controlFramesInWindow += 1
        if controlFramesInWindow > limits.maxControlFramesPerWindow {
            calmDown(counter: worker.stats.http2FloodGoawaysTotal, "more than \(limits.maxControlFramesPerWindow) control or empty frames")
        }
    }

    /// Past an abuse limit: GOAWAY ENHANCE_YOUR_CALM, counted once per connection.
    private func calmDown(counter: Counter, _ what: String) {
        guard !goawaySent else { return }
        counter.add(1)
        Log.warn("http2", "\(what) within \(limits.abuseWindow): GOAWAY ENHANCE_YOUR_CALM")
        goawaySent = true
        session.terminate(errorCode: HTTP2ErrorCode.enhanceYourCalm, lastStreamID: lastOpenedStreamID)
        cancelAllStreams()
        scheduleFlush()
    }

    // MARK: Output

    func scheduleFlush() {
        if processing || flushScheduled || closed { return }
        flushScheduled = true
        worker.loop.deferUntilEndOfIteration { [self] in
            flushScheduled = false
            flush()
        }
    }

    private func flush() {
        guard !closed else { return }
        let outcome = session.flush(to: tcp, highWatermark: worker.config.limits.outputBufferLimit)
        if !session.wantsRead && !goawaySent && !peerSentGoaway {
            // nghttp2 ended the session itself (a connection error it detected, e.g. a stream over an acknowledged
            // max_concurrent_streams): its GOAWAY has just gone out. Count it; the streams are over.
            goawaySent = true
            worker.stats.http2ProtocolErrorsTotal.add(1)
            Log.debug("http2", "nghttp2 ended the connection with a protocol error")
            cancelAllStreams()
        }
        switch outcome {
        case .flushed:
            // A client that does not read what it asks for (responses, PING ACKs) is not read either.
            if !tcp.isClosed && tcp.bufferedBytes >= worker.config.limits.outputBufferLimit && !readPausedForOutput {
                readPausedForOutput = true
                worker.stats.outputLimitPausesTotal.add(1)
                tcp.pauseReading()
            }
            if tcp.isClosed { close() }
        case .finished:
            // GOAWAY both ways and nothing left to send.
            close()
        case .failed(let why):
            Log.debug("http2", "send error: \(why)")
            close()
        }
    }

    /// After a fatal connection error: GOAWAY with `errorCode`, then close.
    private func endConnection(errorCode: UInt32) {
        if !goawaySent {
            goawaySent = true
            session.terminate(errorCode: errorCode, lastStreamID: lastOpenedStreamID)
        }
        cancelAllStreams()
        finishAndClose()
    }

    /// Sends everything queued (GOAWAY included, past the watermark: it is small and final), then closes without
    /// letting a RST destroy it (`closeLingering`); the socket reports the end through `connectionDidClose`.
    private func finishAndClose() {
        _ = session.flush(to: tcp, highWatermark: Int.max)
        tcp.closeLingering()
        if tcp.isClosed { close() }
    }

    // MARK: Idle, drain, close

    private func armIdleTimer() {
        let timeout = worker.config.limits.idleTimeout
        guard streams.isEmpty, idleTimer == nil, timeout > .zero, !closed else { return }
        idleTimer = worker.loop.scheduleTimer(after: timeout) { [self] in
            idleTimer = nil
            guard streams.isEmpty, !closed else { return }
            drain()
        }
    }

    /// GOAWAY (NO_ERROR) with the last stream we processed: streams above it were never seen, the others finish.
    private func submitGoawayOnce() {
        guard !goawaySent else { return }
        goawaySent = true
        session.submitGoaway(lastStreamID: lastOpenedStreamID, errorCode: HTTP2ErrorCode.noError)
    }

    private var closeScheduled = false

    /// Draining and no stream left: GOAWAY, then close once it is written. Deferred to the end of the iteration:
    /// this is reached from nghttp2's callbacks (a stream closing while `mem_send` hands out its last frame), and
    /// closing there would drop the frame nghttp2 is returning.
    private func closeIfDone() {
        guard draining, streams.isEmpty, !closed, !closeScheduled else { return }
        closeScheduled = true
        worker.loop.deferUntilEndOfIteration { [self] in
            closeScheduled = false
            guard draining, streams.isEmpty, !closed else { return }
            submitGoawayOnce()
            finishAndClose()
        }
    }

    /// Graceful drain (SIGTERM, idle timeout): GOAWAY now, close once the streams in flight are done.
    func drain() {
        guard !closed else { return }
        draining = true
        submitGoawayOnce()
        closeIfDone()
        scheduleFlush()
    }

    var bufferedResponseBytes: Int { tcp.bufferedBytes }

    func close(reset: Bool) {
        if reset { tcp.abort() }
        close()
    }

    private func cancelAllStreams() {
        let open = streams.values
        streams = [:]
        for stream in open { stream.closed(errorCode: HTTP2ErrorCode.cancel) }
    }

    private func close() {
        guard !closed else { return }
        closed = true
        worker.loop.cancelTimer(idleTimer)
        idleTimer = nil
        cancelAllStreams()
        tcp.close()
        worker.connectionClosed(self)
    }
}
