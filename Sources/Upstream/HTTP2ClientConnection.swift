internal import CNGHTTP2
import EventLoop
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
final class HTTP2ClientConnection: TCPConnectionDelegate {
    enum State { case connecting, ready, draining, closed }

    let loop: EventLoop
    let endpoint: String
    private(set) var state: State = .connecting
    weak var owner: (any HTTP2ClientConnectionOwner)?
    private var tcp: TCPConnection?
    private var session: OpaquePointer?
    private var streams: [Int32: UpstreamStream] = [:]
    /// Streams submitted before the connection was up.
    private var waiting: [UpstreamStream] = []
    private var flushScheduled = false
    private var flushing = false
    private var flushAgain = false
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
    private var block = ResponseHeaderBlock()
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
        connectTimer = loop.scheduleTimer(after: settings.connectTimeout) { [weak self] in
            guard let self else { return }
            var what = "connect timeout"
            if self.tcp?.isTLSHandshaking == true {
                what = "TLS handshake timeout"
                UpstreamTLSStats.recordHandshakeFailure()
            }
            self.shutdown(reason: "\(what) after \(settings.connectTimeout) to \(address)", connectFailed: true)
        }
    }

    deinit {
        if let session { nghttp2_session_del(session) }
    }

    private func createSession(settings: UpstreamSettings) {
        var callbacks: OpaquePointer?
        nghttp2_session_callbacks_new(&callbacks)
        nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, onBeginHeadersCallback)
        nghttp2_session_callbacks_set_on_header_callback(callbacks, onHeaderCallback)
        nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, onFrameRecvCallback)
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, onDataChunkRecvCallback)
        nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, onStreamCloseCallback)
        var option: OpaquePointer?
        nghttp2_option_new(&option)
        nghttp2_option_set_no_auto_window_update(option, 1)
        // Floods from a hostile server end the session instead of growing queues. These are nghttp2's defaults,
        // set here so the bound is stated where the session is made: at most 1000 SETTINGS/PING ACKs waiting to
        // be sent (they wait when our socket to the server is backed up), 32 entries per SETTINGS frame and 8
        // CONTINUATION frames per header block.
        nghttp2_option_set_max_outbound_ack(option, 1000)
        nghttp2_option_set_max_settings(option, 32)
        nghttp2_option_set_max_continuations(option, 8)
        // Until the server's SETTINGS arrive, assume the gRPC-typical 100 rather than unlimited.
        nghttp2_option_set_peer_max_concurrent_streams(option, 100)
        var s: OpaquePointer?
        nghttp2_session_client_new2(&s, callbacks, Unmanaged.passUnretained(self).toOpaque(), option)
        nghttp2_option_del(option)
        nghttp2_session_callbacks_del(callbacks)
        session = s
        var iv = [
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_ENABLE_PUSH.rawValue), value: 0),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE.rawValue), value: UInt32(settings.initialStreamWindow)),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE.rawValue), value: UInt32(settings.maxResponseHeaderBytes)),
            // Larger DATA frames from the server mean fewer callbacks and fewer downstream chunks for big messages.
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_FRAME_SIZE.rawValue), value: 256 * 1024),
        ]
        nghttp2_submit_settings(s, UInt8(NGHTTP2_FLAG_NONE.rawValue), &iv, iv.count)
        nghttp2_session_set_local_window_size(s, UInt8(NGHTTP2_FLAG_NONE.rawValue), 0, Int32(settings.initialConnectionWindow))
    }

    // MARK: Capacity

    var activeStreams: Int { streams.count + waiting.count }

    var maxStreams: Int {
        guard let session, state == .ready else { return maxConcurrentStreamsCap }
        let remote = Int(nghttp2_session_get_remote_settings(session, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS))
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
        // nghttp2 copies names and values during submit, so one scratch allocation holding all of them only has
        // to live for the call.
        var total = 0
        for (n, v) in stream.requestHeaders { total += n.utf8.count + (n == ":scheme" ? scheme : v).utf8.count }
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: max(total, 1), alignment: 1)
        defer { storage.deallocate() }
        var nvs: [nghttp2_nv] = []
        nvs.reserveCapacity(stream.requestHeaders.count)
        var offset = 0
        func place(_ s: String) -> (UnsafeMutablePointer<UInt8>, Int) {
            let start = storage.baseAddress! + offset
            var n = 0
            var copy = s
            copy.withUTF8 { utf8 in
                n = utf8.count
                if n > 0 { start.copyMemory(from: utf8.baseAddress!, byteCount: n) }
            }
            offset += n
            return (start.assumingMemoryBound(to: UInt8.self), n)
        }
        for (name, value) in stream.requestHeaders {
            let (np, nl) = place(name)
            let (vp, vl) = place(name == ":scheme" ? scheme : value)
            nvs.append(nghttp2_nv(name: np, value: vp, namelen: nl, valuelen: vl, flags: UInt8(NGHTTP2_NV_FLAG_NONE.rawValue)))
        }
        var provider = nghttp2_data_provider(source: nghttp2_data_source(ptr: nil), read_callback: dataReadCallback)
        let id = nghttp2_submit_request(session, nil, nvs, nvs.count, &provider, nil)
        if id < 0 {
            stream.connection = nil
            stream.finish(.connectionLost("cannot submit request: \(String(cString: nghttp2_strerror(id)))"))
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
        _ = nghttp2_session_resume_data(session, stream.streamID)
        scheduleFlush()
    }

    /// The downstream took `n` bytes of this stream's DATA: open the stream's window by as much. Nothing to do
    /// for a stream that has closed (the connection window already went back when the bytes arrived).
    func consumeStreamWindow(_ stream: UpstreamStream, _ n: Int) {
        guard let session, state != .closed, stream.streamID > 0, streams[stream.streamID] === stream else { return }
        nghttp2_session_consume_stream(session, stream.streamID, n)
        scheduleFlush()
    }

    func cancel(_ stream: UpstreamStream) {
        if let i = waiting.firstIndex(where: { $0 === stream }) {
            waiting.remove(at: i)
            return
        }
        guard let session, stream.streamID > 0, streams[stream.streamID] != nil else { return }
        // No window is owed: the connection's went back on receipt, and the stream's dies with the stream.
        nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), stream.streamID, NGHTTP2_CANCEL.rawValue)
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

    /// Moves nghttp2's pending frames into the socket until nghttp2 has nothing or the socket is backed up.
    /// Corked, so the frames of many calls leave in one writev. Re-entry (the uncork's drain callback) loops
    /// here instead of recursing.
    private func flush() {
        if flushing { flushAgain = true; return }
        flushing = true
        defer { flushing = false }
        repeat {
            flushAgain = false
            guard let session, let tcp, state != .connecting, state != .closed else { return }
            tcp.cork()
            while tcp.bufferedBytes < HTTP2ClientConnection.outputHighWatermark {
                var data: UnsafePointer<UInt8>?
                let n = nghttp2_session_mem_send(session, &data)
                if n < 0 {
                    tcp.uncork()
                    shutdown(reason: "nghttp2 send error: \(String(cString: nghttp2_strerror(Int32(n))))", connectFailed: false)
                    return
                }
                if n == 0 { break }
                tcp.write(UnsafeRawBufferPointer(start: data, count: n))
                if tcp.isClosed { return }
            }
            tcp.uncork()
            if tcp.isClosed { return }
            if nghttp2_session_want_read(session) == 0 && nghttp2_session_want_write(session) == 0 && tcp.bufferedBytes == 0 {
                shutdown(reason: "connection finished (GOAWAY)", connectFailed: false)
                return
            }
        } while flushAgain
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
        let rc = nghttp2_session_mem_recv(session, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count)
        processing = false
        if rc < 0 {
            shutdown(reason: "HTTP/2 protocol error from upstream: \(String(cString: nghttp2_strerror(Int32(rc))))", connectFailed: false)
            return
        }
        flush()
    }

    func connectionDidReadEOF(_ connection: TCPConnection) {
        shutdown(reason: "upstream closed the connection", connectFailed: false)
    }

    func connectionDidDrainWrites(_ connection: TCPConnection) {
        flush()
    }

    func connectionDidClose(_ connection: TCPConnection, errno: Int32) {
        let wasConnecting = state == .connecting
        if let failure = connection.tlsFailure, failure.kind == .handshake { UpstreamTLSStats.recordHandshakeFailure() }
        let why = connection.tlsFailure?.message ?? (errno == 0 ? "connection closed" : String(cString: strerror(errno)))
        shutdown(reason: wasConnecting ? "cannot connect to \(endpoint): \(why)" : "upstream connection lost: \(why)", connectFailed: wasConnecting)
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
    }

    // MARK: Keepalive

    private func scheduleKeepalive() {
        guard keepaliveInterval > .zero else { return }
        pingTimer = loop.scheduleTimer(after: keepaliveInterval) { [weak self] in self?.keepaliveTick() }
    }

    private func keepaliveTick() {
        guard let session, state == .ready || state == .draining else { return }
        let idleFor = loop.now &- lastActivity
        if idleFor >= UInt64(keepaliveInterval.nanoseconds) {
            nghttp2_submit_ping(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), nil)
            flush()
            pingAckTimer = loop.scheduleTimer(after: keepaliveTimeout) { [weak self] in
                self?.shutdown(reason: "keepalive PING not answered within \(self?.keepaliveTimeout ?? .zero)", connectFailed: false)
            }
        }
        scheduleKeepalive()
    }

    // MARK: nghttp2 events (called from the C trampolines below)

    fileprivate func onBeginHeaders(streamID: Int32) {
        block.begin(streamID)
    }

    /// One field of the current block; false when the block went past the header list limit (the stream is then
    /// reset by nghttp2 and failed here, and the rest of the block is decoded without callbacks).
    fileprivate func onHeader(streamID: Int32, name: UnsafeBufferPointer<UInt8>, value: UnsafeBufferPointer<UInt8>) -> Bool {
        // Counted before anything is copied: an HPACK bomb (one large indexed field referenced thousands of
        // times in a small block) must cost nothing but this addition.
        guard block.add(streamID: streamID, name: name, value: value, limit: maxHeaderListBytes) else {
            Log.warn("upstream", "\(endpoint): stream \(streamID): response header list over \(maxHeaderListBytes) bytes; stream reset")
            streams[streamID]?.finish(.headerListTooLarge(limit: maxHeaderListBytes))
            return false
        }
        return true
    }

    fileprivate func onHeadersFrame(streamID: Int32, endStream: Bool) {
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

    fileprivate func onData(streamID: Int32, bytes: UnsafeRawBufferPointer, endStream: Bool) {
        guard let session else { return }
        // The connection window is shared by every call here: it goes back on receipt, whatever the browser does.
        nghttp2_session_consume_connection(session, bytes.count)
        guard let stream = streams[streamID], let d = stream.delegate else {
            // Nobody will write these bytes: give the stream window back now too.
            nghttp2_session_consume_stream(session, streamID, bytes.count)
            return
        }
        d.upstreamDidReceiveData(stream, bytes)
    }

    fileprivate func onFrame(type: UInt8, flags: UInt8, streamID: Int32, goawayLastStreamID: Int32) {
        let endStream = flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0
        switch UInt32(type) {
        case NGHTTP2_HEADERS.rawValue:
            onHeadersFrame(streamID: streamID, endStream: endStream)
        case NGHTTP2_DATA.rawValue:
            if endStream, let s = streams[streamID] { s.receivedEndStream = true }
        case NGHTTP2_GOAWAY.rawValue:
            self.goawayLastStreamID = min(goawayLastStreamID, self.goawayLastStreamID)
            if state == .ready { state = .draining }
        case NGHTTP2_PING.rawValue:
            if flags & UInt8(NGHTTP2_FLAG_ACK.rawValue) != 0 {
                loop.cancelTimer(pingAckTimer)
                pingAckTimer = nil
            }
        case NGHTTP2_SETTINGS.rawValue:
            owner?.connectionHasCapacity(self)
        default:
            break
        }
    }

    fileprivate func onStreamClose(streamID: Int32, errorCode: UInt32) {
        block.discard(streamID)
        guard let stream = streams.removeValue(forKey: streamID) else { return }
        stream.connection = nil
        let refused = errorCode == NGHTTP2_REFUSED_STREAM.rawValue || (streamID > goawayLastStreamID && !stream.receivedHeaders)
        if refused && stream.canRetry && !stream.isFinished {
            owner?.connectionRefusedStream(self, stream)
        } else if stream.receivedEndStream {
            // A server that ends early may follow its trailers with RST_STREAM(NO_ERROR): still a normal end.
            stream.finish(nil)
        } else {
            stream.finish(.reset(code: refused ? NGHTTP2_REFUSED_STREAM.rawValue : errorCode))
        }
        if state != .closed { owner?.connectionHasCapacity(self) }
    }

    fileprivate func readBody(streamID: Int32, into buf: UnsafeMutablePointer<UInt8>, length: Int, flags: UnsafeMutablePointer<UInt32>) -> Int {
        guard let stream = streams[streamID] else { return Int(NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue) }
        let available = stream.pendingBody.count - stream.pendingOffset
        if available == 0 {
            if stream.requestBodyEnded {
                flags.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue
                return 0
            }
            stream.dataDeferred = true
            return Int(NGHTTP2_ERR_DEFERRED.rawValue)
        }
        let n = min(available, length)
        stream.pendingBody.withUnsafeBytes { raw in
            UnsafeMutableRawPointer(buf).copyMemory(from: raw.baseAddress! + stream.pendingOffset, byteCount: n)
        }
        stream.pendingOffset += n
        let left = stream.pendingBody.count - stream.pendingOffset
        if left == 0 {
            stream.pendingBody.removeAll(keepingCapacity: stream.pendingBody.capacity <= 64 * 1024)
            stream.pendingOffset = 0
            if stream.requestBodyEnded { flags.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue }
        }
        // Crossing the low watermark, or emptying (a limit below the watermark pauses below it too).
        if left == 0 || (left < UpstreamStream.bodyLowWatermark && left + n >= UpstreamStream.bodyLowWatermark) {
            stream.delegate?.upstreamRequestBodyDrained(stream)
        }
        return n
    }
}

// MARK: - C trampolines: no captures, user_data is the unretained connection.

private func connection(_ userData: UnsafeMutableRawPointer?) -> HTTP2ClientConnection {
    Unmanaged<HTTP2ClientConnection>.fromOpaque(userData!).takeUnretainedValue()
}

private let onBeginHeadersCallback: nghttp2_on_begin_headers_callback = { _, frame, userData in
    guard let frame else { return 0 }
    connection(userData).onBeginHeaders(streamID: frame.pointee.hd.stream_id)
    return 0
}

private let onHeaderCallback: nghttp2_on_header_callback = { _, frame, name, namelen, value, valuelen, _, userData in
    guard let frame, let name, let value else { return 0 }
    let accepted = connection(userData).onHeader(streamID: frame.pointee.hd.stream_id,
                                                 name: UnsafeBufferPointer(start: name, count: namelen),
                                                 value: UnsafeBufferPointer(start: value, count: valuelen))
    // TEMPORAL_CALLBACK_FAILURE: nghttp2 resets the stream (INTERNAL_ERROR) and skips the rest of the block.
    return accepted ? 0 : NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue
}

private let onFrameRecvCallback: nghttp2_on_frame_recv_callback = { _, frame, userData in
    guard let frame else { return 0 }
    let hd = frame.pointee.hd
    let last = hd.type == UInt8(NGHTTP2_GOAWAY.rawValue) ? frame.pointee.goaway.last_stream_id : Int32.max
    connection(userData).onFrame(type: hd.type, flags: hd.flags, streamID: hd.stream_id, goawayLastStreamID: last)
    return 0
}

private let onDataChunkRecvCallback: nghttp2_on_data_chunk_recv_callback = { _, flags, streamID, data, len, userData in
    connection(userData).onData(streamID: streamID, bytes: UnsafeRawBufferPointer(start: data, count: len), endStream: false)
    return 0
}

private let onStreamCloseCallback: nghttp2_on_stream_close_callback = { _, streamID, errorCode, userData in
    connection(userData).onStreamClose(streamID: streamID, errorCode: errorCode)
    return 0
}

private let dataReadCallback: nghttp2_data_source_read_callback = { _, streamID, buf, length, flags, _, userData in
    guard let buf, let flags else { return Int(NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue) }
    return connection(userData).readBody(streamID: streamID, into: buf, length: length, flags: flags)
}
