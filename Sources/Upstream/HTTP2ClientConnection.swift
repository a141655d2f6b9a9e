import EventLoop
import HTTP2
import Transport
import Glibc

/// Events a connection reports to its pool.
protocol HTTP2ClientConnectionOwner: AnyObject {
    func connectionBecameReady(_ c: HTTP2ClientConnection)
    func connectionHasCapacity(_ c: HTTP2ClientConnection)
    func connectionClosed(_ c: HTTP2ClientConnection, failedWaiting: [UpstreamStream], reason: String, connectFailed: Bool)
    /// Streams nghttp2 closed as never processed (REFUSED_STREAM, or above a GOAWAY's last-stream-id).
    func connectionRefusedStream(_ c: HTTP2ClientConnection, _ stream: UpstreamStream)
}

/// One HTTP/2 client connection (cleartext, prior knowledge) driven by an nghttp2 session through the memory
/// APIs only. nghttp2 never writes: `mem_send` output goes to the `TCPConnection` after processing, coalesced
/// to once per loop iteration.
///
/// Flow control is split by level (automatic WINDOW_UPDATE is off). The connection window, shared by every call
/// here, goes back as soon as DATA arrives, so a browser that stops reading can never stall the other calls.
/// The stream window goes back only when the downstream has taken the bytes (`consumeStreamWindow`), so a slow
/// browser slows its own stream at the server instead of growing our buffers: what this connection holds is at
/// most `maxConcurrentStreamsCap × initial_stream_window`.
final class HTTP2ClientConnection: TCPConnectionDelegate, HTTP2SessionDelegate {
    enum State { case connecting, ready, draining, closed }

    let loop: EventLoop
    let endpoint: String
    private(set) var state: State = .connecting
    /// The endpoint that owns this connection. Strong (a weak reference would give every endpoint a side table);
    /// the cycle is broken when the connection shuts down.
    var owner: (any HTTP2ClientConnectionOwner)?
    /// Its TLS handshake failed (or the server rejected it right after): counted per endpoint.
    private(set) var tlsHandshakeFailed = false
    private var tcp: TCPConnection?
    /// The nghttp2 driver (shared with the downstream server role); nil once closed.
    private var session: HTTP2Session?
    private var streams: [Int32: UpstreamStream] = [:]
    /// Streams submitted before the connection was up.
    private var waiting: [UpstreamStream] = []
    private var flushScheduled = false
    private var processing = false
    private var connectTimer: TimerHandle?
    private var pingTimer: TimerHandle?
    private var pingAckTimer: TimerHandle?
    private var lastActivity: UInt64 = 0
    let maxConcurrentStreamsCap: Int
    private let keepaliveInterval: Duration
    private let keepaliveTimeout: Duration
    /// Output buffered in the socket above this pauses `mem_send` until the socket drains.
    private static let outputHighWatermark = 1 << 20
    /// The header block being received (nghttp2 delivers one field per callback). HTTP/2 sends a block's frames
    /// back to back (HEADERS then CONTINUATION, nothing interleaved), so one block per connection is ever in
    /// progress: no per-stream map for a hostile server to grow.
    private var block = HeaderBlock()
    /// SETTINGS_MAX_HEADER_LIST_SIZE we advertise, enforced here because nghttp2 does not enforce it on what it
    /// receives.
    private let maxHeaderListBytes: Int
    private var goawayLastStreamID: Int32 = Int32.max
    /// False until the server sent its first byte. A server that closes before speaking HTTP/2 at all (not even
    /// its SETTINGS) cannot have processed any stream, so those streams may be retried elsewhere.
    private var serverSpoke = false

    /// `https` over TLS: the connection, which knows, sets every request's `:scheme`.
    private let scheme: String

    /// - Parameter host: the endpoint as configured (DNS name or IP literal), the default TLS server name.
    init(loop: EventLoop, address: SocketAddress, host: String, readBuffer: LoopReadBuffer, settings: UpstreamSettings) throws {
        self.loop = loop
        self.endpoint = address.description
        self.maxConcurrentStreamsCap = settings.maxConcurrentStreams
        self.keepaliveInterval = settings.keepaliveInterval
        self.keepaliveTimeout = settings.keepaliveTimeout
        self.maxHeaderListBytes = settings.maxResponseHeaderBytes
        scheme = settings.tls == nil ? "http" : "https"
        let tls = settings.tls.map {
            TLSConnectOptions(context: $0, serverName: settings.tlsServerName ?? host, requiredProtocol: "h2")
        }
        tcp = try TCPConnection.connect(loop: loop, to: address, readBuffer: readBuffer, delegate: self, tls: tls)
        createSession(settings: settings)
        // Covers the TCP connect and the TLS handshake.
        // Strong captures in this connection's timers: each is cancelled by `shutdown`, and a weak reference would
        // give the connection a side table and slower reference counting on every call it carries.
        connectTimer = loop.scheduleTimer(after: settings.connectTimeout) { [self] in
            var what = "connect timeout"
            if self.tcp?.isTLSHandshaking == true {
                what = "TLS handshake timeout"
                self.recordTLSFailure()
            }
            self.shutdown(reason: "\(what) after \(settings.connectTimeout) to \(address)", connectFailed: true)
        }
    }

    private func createSession(settings: UpstreamSettings) {
        // Floods from a hostile server end the session instead of growing queues (HTTP2SessionLimits' defaults:
        // 1000 ACKs waiting, 32 entries per SETTINGS, 8 CONTINUATION frames per block); until the server's
        // SETTINGS arrive, assume the gRPC-typical 100 concurrent streams rather than unlimited.
        let s = HTTP2Session(role: .client, delegate: self)
        s.submitSettings([
            (.enablePush, 0),
            (.initialWindowSize, UInt32(settings.initialStreamWindow)),
            (.maxHeaderListSize, UInt32(settings.maxResponseHeaderBytes)),
            // Larger DATA frames from the server mean fewer callbacks and fewer downstream chunks for big messages.
            (.maxFrameSize, 256 * 1024),
        ])
        s.setConnectionWindow(settings.initialConnectionWindow)
        session = s
    }

    // MARK: Capacity

    var activeStreams: Int { streams.count + waiting.count }

    var maxStreams: Int {
        guard let session, state == .ready else { return maxConcurrentStreamsCap }
        let remote = session.remoteSetting(.maxConcurrentStreams)
        return min(remote, maxConcurrentStreamsCap)
    }

    var hasCapacity: Bool {
        (state == .connecting || state == .ready) && activeStreams < maxStreams
    }

    var isIdle: Bool { streams.isEmpty && waiting.isEmpty }

    // MARK: Streams

    /// Starts `stream` on this connection (queued until connected).
    func attach(_ stream: UpstreamStream) {
        stream.connection = self
        if state == .connecting {
            waiting.append(stream)
            return
        }
        submit(stream)
    }

    private func submit(_ stream: UpstreamStream) {
        guard let session else { return }
        // The connection, which knows whether it runs TLS, sets `:scheme`.
        let headers = stream.requestHeaders.map { $0.0 == ":scheme" ? ($0.0, scheme) : $0 }
        let id: Int32
        switch session.submitRequest(headers, hasBody: true) {
        case .success(let streamID):
            id = streamID
        case .failure(let error):
            stream.connection = nil
            stream.finish(.connectionLost("cannot submit request: \(error)"))
            return
        }
        stream.streamID = id
        streams[id] = stream
        scheduleFlush()
    }

    /// More body or END_STREAM is available for a deferred stream.
    func resume(_ stream: UpstreamStream) {
        guard let session, stream.streamID > 0, stream.dataDeferred else { return }
        stream.dataDeferred = false
        // INVALID_ARGUMENT means the stream was not deferred: nothing to do.
        session.resumeBody(streamID: stream.streamID)
        scheduleFlush()
    }

    /// The downstream took `n` bytes of this stream's DATA: open the stream's window by as much. Nothing to do
    /// for a stream that has closed (the connection window already went back when the bytes arrived).
    func consumeStreamWindow(_ stream: UpstreamStream, _ n: Int) {
        guard let session, state != .closed, stream.streamID > 0, streams[stream.streamID] === stream else { return }
        session.consumeStream(stream.streamID, n)
        scheduleFlush()
    }

    func cancel(_ stream: UpstreamStream) {
        if let i = waiting.firstIndex(where: { $0 === stream }) {
            waiting.remove(at: i)
            return
        }
        guard let session, stream.streamID > 0, streams[stream.streamID] != nil else { return }
        // No window is owed: the connection's went back on receipt, and the stream's dies with the stream.
        session.resetStream(stream.streamID, errorCode: HTTP2ErrorCode.cancel)
        scheduleFlush()
    }

    // MARK: Output

    private func scheduleFlush() {
        if processing || flushScheduled { return }
        flushScheduled = true
        loop.deferUntilEndOfIteration { [self] in
            flushScheduled = false
            flush()
        }
    }

    /// Moves nghttp2's pending frames into the socket (one corked write), up to the output watermark.
    private func flush() {
        guard let session, let tcp, state != .connecting, state != .closed else { return }
        switch session.flush(to: tcp, highWatermark: Self.outputHighWatermark) {
        case .flushed: break
        case .finished: shutdown(reason: "connection finished (GOAWAY)", connectFailed: false)
        case .failed(let why): shutdown(reason: "nghttp2 send error: \(why)", connectFailed: false)
        }
    }

    // MARK: TCPConnectionDelegate

    func connectionDidConnect(_ connection: TCPConnection) {
        loop.cancelTimer(connectTimer)
        connectTimer = nil
        state = .ready
        lastActivity = loop.now
        let queued = waiting
        waiting = []
        for s in queued where !s.isFinished { submit(s) }
        scheduleKeepalive()
        flush()
        owner?.connectionBecameReady(self)
    }

    func connectionDidRead(_ connection: TCPConnection, _ bytes: UnsafeRawBufferPointer) {
        guard let session else { return }
        lastActivity = loop.now
        if bytes.count > 0 { serverSpoke = true }
        processing = true
        let error = session.receive(bytes)
        processing = false
        if let error {
            shutdown(reason: "HTTP/2 protocol error from upstream: \(error)", connectFailed: false)
            return
        }
        flush()
    }

    func connectionDidReadEOF(_ connection: TCPConnection) {
        if !serverSpoke && connection.tlsServerRequestedClientCertificate {
            countTLSRejection(connection)
            shutdown(reason: "upstream closed the connection" + Self.missingClientCertificateHint, connectFailed: false)
            return
        }
        shutdown(reason: "upstream closed the connection", connectFailed: false)
    }

    func connectionDidDrainWrites(_ connection: TCPConnection) {
        flush()
    }

    func connectionDidClose(_ connection: TCPConnection, errno: Int32) {
        var wasConnecting = state == .connecting
        countTLSRejection(connection)
        var why = connection.tlsFailure?.message ?? (errno == 0 ? "connection closed" : String(cString: strerror(errno)))
        if !serverSpoke && connection.tlsServerRequestedClientCertificate { why += Self.missingClientCertificateHint }
        if wasConnecting && errno == ECONNRESET && connection.tlsFailure == nil {
            // Reset, not refused: the endpoint accepted the connection and dropped it before we saw the connect
            // complete. That is the "closed before speaking HTTP/2" case, whatever the order the events came in.
            state = .ready
            wasConnecting = false
        }
        shutdown(reason: wasConnecting ? "cannot connect to \(endpoint): \(why)" : "upstream connection lost: \(why)", connectFailed: wasConnecting)
    }

    /// With TLS 1.3 a server checks our certificate after our side of the handshake is done; gRPC's server then
    /// just closes, others send an alert. Either way the server asked for one we do not have.
    static let missingClientCertificateHint =
        "; the server asked for a client certificate during the TLS handshake and this cluster has none (set tls.cert and tls.key)"

    /// A TLS handshake that failed, or a server that rejected the connection right after it (before any HTTP/2
    /// byte), counts as a failed TLS handshake.
    private func countTLSRejection(_ connection: TCPConnection) {
        let failedHandshake = connection.tlsFailure?.kind == .handshake
        let rejectedAfterwards = !serverSpoke && connection.isTLS
            && (connection.tlsFailure != nil || connection.tlsServerRequestedClientCertificate)
        if failedHandshake || rejectedAfterwards { recordTLSFailure() }
    }

    /// Counted process-wide and, through `tlsHandshakeFailed`, per endpoint by the owner when the connection closes.
    private func recordTLSFailure() {
        UpstreamTLSStats.recordHandshakeFailure()
        tlsHandshakeFailed = true
    }

    /// Closes the connection and fails every stream on it. Idempotent.
    ///
    /// A connection that was up but over which the server never sent a byte counts as a failed connect: the
    /// endpoint accepted TCP and closed (a crashing or misconfigured server, a load balancer with no backend).
    /// Its streams never reached an HTTP/2 server, so the pool retries them elsewhere like waiting ones.
    func shutdown(reason: String, connectFailed: Bool) {
        guard state != .closed else { return }
        let neverSpoke = state != .connecting && !serverSpoke
        state = .closed
        loop.cancelTimer(connectTimer)
        loop.cancelTimer(pingTimer)
        loop.cancelTimer(pingAckTimer)
        tcp?.close()
        tcp = nil
        let open = streams.values.sorted { $0.streamID < $1.streamID }
        streams = [:]
        var retryable = waiting
        waiting = []
        let why = neverSpoke ? "\(endpoint) closed the connection before speaking HTTP/2 (\(reason))" : reason
        for s in open {
            s.connection = nil
            if neverSpoke && s.canRetry {
                retryable.append(s)
            } else {
                s.finish(.connectionLost(why))
            }
        }
        owner?.connectionClosed(self, failedWaiting: retryable, reason: why, connectFailed: connectFailed || neverSpoke)
        owner = nil
    }

    // MARK: Keepalive

    private func scheduleKeepalive() {
        guard keepaliveInterval > .zero else { return }
        pingTimer = loop.scheduleTimer(after: keepaliveInterval) { [self] in keepaliveTick() }
    }

    private func keepaliveTick() {
        guard let session, state == .ready || state == .draining else { return }
        let idleFor = loop.now &- lastActivity
        if idleFor >= UInt64(keepaliveInterval.nanoseconds) {
            session.submitPing()
            flush()
            pingAckTimer = loop.scheduleTimer(after: keepaliveTimeout) { [self] in
                shutdown(reason: "keepalive PING not answered within \(keepaliveTimeout)", connectFailed: false)
            }
        }
        scheduleKeepalive()
    }

    // MARK: HTTP2SessionDelegate (nghttp2 events, from inside `receive` or `flush`)

    func sessionDidBeginHeaders(streamID: Int32) {
        block.begin(streamID)
    }

    /// One field of the current block; false when the block went past the header list limit (the stream is then
    /// reset by nghttp2 and failed here, and the rest of the block is decoded without callbacks).
    func sessionDidReceiveHeader(streamID: Int32, name: UnsafeBufferPointer<UInt8>, value: UnsafeBufferPointer<UInt8>) -> Bool {
        // Counted before anything is copied: an HPACK bomb (one large indexed field referenced thousands of
        // times in a small block) must cost nothing but this addition.
        guard block.add(streamID: streamID, name: name, value: value, limit: maxHeaderListBytes) else {
            Log.warn("upstream", "\(endpoint): stream \(streamID): response header list over \(maxHeaderListBytes) bytes; stream reset")
            streams[streamID]?.finish(.headerListTooLarge(limit: maxHeaderListBytes))
            return false
        }
        return true
    }

    private func onHeadersFrame(streamID: Int32, endStream: Bool) {
        guard let fields = block.take(streamID), let stream = streams[streamID], !stream.isFinished else { return }
        if !stream.receivedHeaders {
            if let status = fields.first(where: { $0.0 == ":status" })?.1, status.hasPrefix("1") { return }
            stream.receivedHeaders = true
            stream.replay = nil
            if endStream { stream.receivedEndStream = true }
            stream.delegate?.upstreamDidReceiveHeaders(stream, fields, endStream: endStream)
        } else {
            if endStream { stream.receivedEndStream = true }
            stream.delegate?.upstreamDidReceiveTrailers(stream, fields)
        }
    }

    func sessionDidReceiveData(streamID: Int32, _ bytes: UnsafeRawBufferPointer) {
        guard let session else { return }
        // The connection window is shared by every call here: it goes back on receipt, whatever the browser does.
        session.consumeConnection(bytes.count)
        guard let stream = streams[streamID], let d = stream.delegate else {
            // Nobody will write these bytes: give the stream window back now too.
            session.consumeStream(streamID, bytes.count)
            return
        }
        d.upstreamDidReceiveData(stream, bytes)
    }

    func sessionDidReceiveFrame(_ frame: HTTP2Frame) {
        switch frame.type {
        case .headers:
            onHeadersFrame(streamID: frame.streamID, endStream: frame.endStream)
        case .data:
            if frame.endStream, let s = streams[frame.streamID] { s.receivedEndStream = true }
        case .goaway:
            goawayLastStreamID = min(frame.goawayLastStreamID, goawayLastStreamID)
            if state == .ready { state = .draining }
        case .ping:
            if frame.isAck {
                loop.cancelTimer(pingAckTimer)
                pingAckTimer = nil
            }
        case .settings:
            owner?.connectionHasCapacity(self)
        default:
            break
        }
    }

    func sessionDidCloseStream(streamID: Int32, errorCode: UInt32) {
        block.discard(streamID)
        guard let stream = streams.removeValue(forKey: streamID) else { return }
        stream.connection = nil
        let refused = errorCode == HTTP2ErrorCode.refusedStream || (streamID > goawayLastStreamID && !stream.receivedHeaders)
        if refused && stream.canRetry && !stream.isFinished {
            owner?.connectionRefusedStream(self, stream)
        } else if stream.receivedEndStream {
            // A server that ends early may follow its trailers with RST_STREAM(NO_ERROR): still a normal end.
            stream.finish(nil)
        } else {
            stream.finish(.reset(code: refused ? HTTP2ErrorCode.refusedStream : errorCode))
        }
        if state != .closed { owner?.connectionHasCapacity(self) }
    }

    func sessionReadBody(streamID: Int32, into buffer: UnsafeMutableRawBufferPointer) -> HTTP2BodyChunk {
        guard let stream = streams[streamID] else { return .bytes(0, end: true) }
        let available = stream.pendingBody.count - stream.pendingOffset
        if available == 0 {
            if stream.requestBodyEnded { return .bytes(0, end: true) }
            stream.dataDeferred = true
            return .deferred
        }
        let n = min(available, buffer.count)
        stream.pendingBody.withUnsafeBytes { raw in
            buffer.baseAddress!.copyMemory(from: raw.baseAddress! + stream.pendingOffset, byteCount: n)
        }
        stream.pendingOffset += n
        let left = stream.pendingBody.count - stream.pendingOffset
        var end = false
        if left == 0 {
            stream.pendingBody.removeAll(keepingCapacity: stream.pendingBody.capacity <= 64 * 1024)
            stream.pendingOffset = 0
            end = stream.requestBodyEnded
        }
        // Crossing the low watermark, or emptying (a limit below the watermark pauses below it too).
        if left == 0 || (left < UpstreamStream.bodyLowWatermark && left + n >= UpstreamStream.bodyLowWatermark) {
            stream.delegate?.upstreamRequestBodyDrained(stream)
        }
        return .bytes(n, end: end)
    }
}
