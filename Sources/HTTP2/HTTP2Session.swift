internal import CNGHTTP2
public import Transport

/// What an `HTTP2Session` reports, in nghttp2's order. Both roles implement it: the upstream client connection
/// and the downstream server connection.
public protocol HTTP2SessionDelegate: AnyObject {
    /// A header block starts on `streamID` (on a server, a new request stream when it is the first block).
    func sessionDidBeginHeaders(streamID: Int32)
    /// One field of the current block. Returning false resets the stream (nghttp2 sends RST_STREAM
    /// INTERNAL_ERROR) and skips the rest of the block: used when the block grows past its limit.
    func sessionDidReceiveHeader(streamID: Int32, name: UnsafeBufferPointer<UInt8>, value: UnsafeBufferPointer<UInt8>) -> Bool
    /// A whole frame arrived (after its DATA chunks or header fields were reported).
    func sessionDidReceiveFrame(_ frame: HTTP2Frame)
    /// DATA payload of a stream (flow control is the delegate's: automatic WINDOW_UPDATE is off).
    func sessionDidReceiveData(streamID: Int32, _ bytes: UnsafeRawBufferPointer)
    func sessionDidCloseStream(streamID: Int32, errorCode: UInt32)
    /// Body bytes for a stream submitted with a body: copy up to `buffer.count` bytes.
    func sessionReadBody(streamID: Int32, into buffer: UnsafeMutableRawBufferPointer) -> HTTP2BodyChunk
    /// nghttp2 received a frame it rejects (a stream-level error it handles itself); for counting.
    func sessionDidReceiveInvalidFrame(_ frame: HTTP2Frame, error: Int32)
}

extension HTTP2SessionDelegate {
    public func sessionDidReceiveInvalidFrame(_ frame: HTTP2Frame, error: Int32) {}
}

/// A received frame's header, plus the fields the roles look at.
public struct HTTP2Frame {
    public var type: HTTP2FrameType
    public var flags: UInt8
    public var streamID: Int32
    public var length: Int
    /// GOAWAY only: the last stream the peer will process.
    public var goawayLastStreamID: Int32
    /// RST_STREAM and GOAWAY: the error code.
    public var errorCode: UInt32
    /// HEADERS only: the block opens a request (server) or is a response/trailers.
    public var isRequestHeaders: Bool

    public var endStream: Bool { flags & HTTP2Frame.flagEndStream != 0 }
    public var isAck: Bool { flags & HTTP2Frame.flagAck != 0 }
    public static let flagEndStream: UInt8 = 0x1
    public static let flagAck: UInt8 = 0x1
}

public enum HTTP2FrameType: UInt8 {
    case data = 0, headers = 1, priority = 2, rstStream = 3, settings = 4, pushPromise = 5, ping = 6, goaway = 7,
         windowUpdate = 8, continuation = 9, unknown = 255
}

/// What a body read returns.
public enum HTTP2BodyChunk {
    /// `count` bytes were copied; `end` closes the stream's sending side (END_STREAM, unless trailers follow).
    case bytes(Int, end: Bool)
    /// Nothing yet: the stream waits until `resumeBody`.
    case deferred
    /// The body is over and trailers will be submitted: DATA without END_STREAM, then a HEADERS frame.
    case endBeforeTrailers(Int)
}

/// HTTP/2 error codes (RFC 9113 §7).
public enum HTTP2ErrorCode {
    public static let noError: UInt32 = 0x0
    public static let protocolError: UInt32 = 0x1
    public static let internalError: UInt32 = 0x2
    public static let flowControlError: UInt32 = 0x3
    public static let refusedStream: UInt32 = 0x7
    public static let cancel: UInt32 = 0x8
    public static let compressionError: UInt32 = 0x9
    public static let enhanceYourCalm: UInt32 = 0xb
}

/// SETTINGS identifiers we send.
public enum HTTP2Setting: Int32 {
    case headerTableSize = 0x1, enablePush = 0x2, maxConcurrentStreams = 0x3, initialWindowSize = 0x4,
         maxFrameSize = 0x5, maxHeaderListSize = 0x6, enableConnectProtocol = 0x8
}

/// Session-level limits nghttp2 enforces itself.
public struct HTTP2SessionLimits {
    /// SETTINGS/PING ACKs allowed to wait for our socket (a peer that floods without reading).
    public var maxOutboundAcks = 1000
    /// Entries in one SETTINGS frame.
    public var maxSettingsEntries = 32
    /// CONTINUATION frames in one header block.
    public var maxContinuations = 8
    /// Peer's SETTINGS_MAX_CONCURRENT_STREAMS until its SETTINGS arrive (client role).
    public var assumedPeerMaxConcurrentStreams = 100
    public init() {}
}

/// One nghttp2 session driven through the memory APIs only: bytes go in with `receive`, frames come out with
/// `flush(to:)` into a corked `TCPConnection`, never from inside a callback. Automatic WINDOW_UPDATE is off:
/// the owner gives windows back with `consumeConnection` / `consumeStream`. Loop-confined, like its connection.
///
/// The client (upstream) and server (downstream) connections are two roles of this driver: session creation,
/// memory send/receive, the coalesced flush and the submit helpers live here once.
public final class HTTP2Session {
    public enum Role { case client, server }

    private var session: OpaquePointer?
    /// The owner of this session (it holds the session, so it outlives every callback): `unowned(unsafe)`, as a
    /// checked reference would cost reference counting on every header field.
    public unowned(unsafe) let delegate: any HTTP2SessionDelegate
    public let role: Role
    private var flushing = false
    private var flushAgain = false

    public init(role: Role, delegate: any HTTP2SessionDelegate, limits: HTTP2SessionLimits = HTTP2SessionLimits()) {
        self.role = role
        self.delegate = delegate
        var callbacks: OpaquePointer?
        nghttp2_session_callbacks_new(&callbacks)
        nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, onBeginHeadersCallback)
        nghttp2_session_callbacks_set_on_header_callback(callbacks, onHeaderCallback)
        nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, onFrameRecvCallback)
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, onDataChunkRecvCallback)
        nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, onStreamCloseCallback)
        nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(callbacks, onInvalidFrameRecvCallback)
        var option: OpaquePointer?
        nghttp2_option_new(&option)
        nghttp2_option_set_no_auto_window_update(option, 1)
        // Floods end the session instead of growing queues (see HTTP2SessionLimits).
        nghttp2_option_set_max_outbound_ack(option, limits.maxOutboundAcks)
        nghttp2_option_set_max_settings(option, limits.maxSettingsEntries)
        nghttp2_option_set_max_continuations(option, limits.maxContinuations)
        if role == .client {
            nghttp2_option_set_peer_max_concurrent_streams(option, UInt32(limits.assumedPeerMaxConcurrentStreams))
        }
        var s: OpaquePointer?
        let me = Unmanaged.passUnretained(self).toOpaque()
        switch role {
        case .client: nghttp2_session_client_new2(&s, callbacks, me, option)
        case .server: nghttp2_session_server_new2(&s, callbacks, me, option)
        }
        nghttp2_option_del(option)
        nghttp2_session_callbacks_del(callbacks)
        session = s
    }

    deinit {
        if let session { nghttp2_session_del(session) }
    }

    // MARK: Settings and windows

    public func submitSettings(_ settings: [(HTTP2Setting, UInt32)]) {
        var iv = settings.map { nghttp2_settings_entry(settings_id: $0.0.rawValue, value: $0.1) }
        nghttp2_submit_settings(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), &iv, iv.count)
    }

    /// The connection-level receive window we grant (sends a WINDOW_UPDATE for the difference).
    public func setConnectionWindow(_ size: Int) {
        nghttp2_session_set_local_window_size(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), 0, Int32(clamping: size))
    }

    public func consumeConnection(_ n: Int) { nghttp2_session_consume_connection(session, n) }
    public func consumeStream(_ streamID: Int32, _ n: Int) { nghttp2_session_consume_stream(session, streamID, n) }
    /// Both levels at once: bytes nobody will forward.
    public func consume(_ streamID: Int32, _ n: Int) { nghttp2_session_consume(session, streamID, n) }

    public func remoteSetting(_ setting: HTTP2Setting) -> Int {
        Int(nghttp2_session_get_remote_settings(session, nghttp2_settings_id(UInt32(setting.rawValue))))
    }

    /// The highest stream id the session processed (for a GOAWAY's last-stream-id).
    public var lastProcessedStreamID: Int32 { nghttp2_session_get_last_proc_stream_id(session) }

    /// The `error` of `sessionDidReceiveInvalidFrame` for a stream refused over SETTINGS_MAX_CONCURRENT_STREAMS.
    public static let refusedStreamError = NGHTTP2_ERR_REFUSED_STREAM.rawValue

    public var wantsRead: Bool { nghttp2_session_want_read(session) != 0 }
    public var wantsWrite: Bool { nghttp2_session_want_write(session) != 0 }

    // MARK: Input

    /// Feeds received bytes. Returns nil, or why the session must end (a connection error: nghttp2 has queued a
    /// GOAWAY to flush first).
    public func receive(_ bytes: UnsafeRawBufferPointer) -> HTTP2ReceiveError? {
        let rc = nghttp2_session_mem_recv(session, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count)
        guard rc < 0 else { return nil }
        return HTTP2ReceiveError(message: String(cString: nghttp2_strerror(Int32(rc))),
                                 isFlood: rc == Int(NGHTTP2_ERR_FLOODED.rawValue))
    }

    // MARK: Output

    public enum FlushOutcome: Equatable {
        /// Everything nghttp2 had is in the socket's queue (or the queue is above the watermark).
        case flushed
        /// Neither side wants anything more (after GOAWAYs both ways): the connection can close.
        case finished
        case failed(String)
    }

    /// Moves nghttp2's pending frames into `tcp` until nghttp2 has nothing or the socket's queue reaches
    /// `highWatermark`. Corked, so the frames of many streams leave in one write. Re-entry (the uncork's drain
    /// callback) loops here instead of recursing.
    public func flush(to tcp: TCPConnection, highWatermark: Int) -> FlushOutcome {
        if flushing { flushAgain = true; return .flushed }
        flushing = true
        defer { flushing = false }
        repeat {
            flushAgain = false
            if tcp.isClosed { return .flushed }
            tcp.cork()
            while tcp.bufferedBytes < highWatermark {
                var data: UnsafePointer<UInt8>?
                let n = nghttp2_session_mem_send(session, &data)
                if n < 0 {
                    tcp.uncork()
                    return .failed(String(cString: nghttp2_strerror(Int32(n))))
                }
                if n == 0 { break }
                tcp.write(UnsafeRawBufferPointer(start: data, count: n))
                if tcp.isClosed { return .flushed }
            }
            tcp.uncork()
            if tcp.isClosed { return .flushed }
            if !wantsRead && !wantsWrite && tcp.bufferedBytes == 0 { return .finished }
        } while flushAgain
        return .flushed
    }

    // MARK: Submitting

    /// A request (client role). Returns the stream id, or a negative nghttp2 error with its text.
    public func submitRequest(_ headers: [(String, String)], hasBody: Bool) -> Result<Int32, HTTP2SubmitError> {
        let id = withNameValues(headers) { nvs in
            guard hasBody else { return nghttp2_submit_request(session, nil, nvs.baseAddress, nvs.count, nil, nil) }
            var provider = nghttp2_data_provider(source: nghttp2_data_source(ptr: nil), read_callback: dataReadCallback)
            return nghttp2_submit_request(session, nil, nvs.baseAddress, nvs.count, &provider, nil)
        }
        return id < 0 ? .failure(HTTP2SubmitError(code: id)) : .success(id)
    }

    /// Response headers (server role); with `hasBody`, DATA follows from `sessionReadBody`, else END_STREAM.
    @discardableResult
    public func submitResponse(streamID: Int32, _ headers: [(String, String)], hasBody: Bool) -> HTTP2SubmitError? {
        let rc = withNameValues(headers) { nvs in
            guard hasBody else { return nghttp2_submit_response(session, streamID, nvs.baseAddress, nvs.count, nil) }
            var provider = nghttp2_data_provider(source: nghttp2_data_source(ptr: nil), read_callback: dataReadCallback)
            return nghttp2_submit_response(session, streamID, nvs.baseAddress, nvs.count, &provider)
        }
        return rc < 0 ? HTTP2SubmitError(code: rc) : nil
    }

    /// Trailers (a HEADERS frame with END_STREAM) after the body.
    @discardableResult
    public func submitTrailers(streamID: Int32, _ headers: [(String, String)]) -> HTTP2SubmitError? {
        let rc = withNameValues(headers) { nvs in nghttp2_submit_trailer(session, streamID, nvs.baseAddress, nvs.count) }
        return rc < 0 ? HTTP2SubmitError(code: rc) : nil
    }

    /// More body (or its end) is available for a stream whose read returned `.deferred`.
    public func resumeBody(streamID: Int32) {
        // INVALID_ARGUMENT means the stream was not deferred: nothing to do.
        _ = nghttp2_session_resume_data(session, streamID)
    }

    public func resetStream(_ streamID: Int32, errorCode: UInt32) {
        nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), streamID, errorCode)
    }

    /// GOAWAY with `lastStreamID` (streams above it were not and will not be processed).
    public func submitGoaway(lastStreamID: Int32, errorCode: UInt32, debug: String = "") {
        var bytes = Array(debug.utf8)
        nghttp2_submit_goaway(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), lastStreamID, errorCode, &bytes, bytes.count)
    }

    /// Ends the session with a GOAWAY (nghttp2 stops reading). `lastStreamID`: the highest stream the owner acted
    /// on; nil = the last one nghttp2 processed.
    public func terminate(errorCode: UInt32, lastStreamID: Int32? = nil) {
        if let lastStreamID {
            nghttp2_session_terminate_session2(session, lastStreamID, errorCode)
        } else {
            nghttp2_session_terminate_session(session, errorCode)
        }
    }

    public func submitPing() {
        nghttp2_submit_ping(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), nil)
    }

    /// The peer's window for sending on this stream (for diagnostics and tests).
    public func streamRemoteWindow(_ streamID: Int32) -> Int {
        Int(nghttp2_session_get_stream_remote_window_size(session, streamID))
    }

    /// nghttp2 copies names and values during submit, so one scratch allocation holding all of them only has to
    /// live for the call.
    private func withNameValues<R>(_ headers: [(String, String)], _ body: (UnsafeBufferPointer<nghttp2_nv>) -> R) -> R {
        var total = 0
        for (n, v) in headers { total += n.utf8.count + v.utf8.count }
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: max(total, 1), alignment: 1)
        defer { storage.deallocate() }
        return withUnsafeTemporaryAllocation(of: nghttp2_nv.self, capacity: max(headers.count, 1)) { nvs in
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
            for (i, (name, value)) in headers.enumerated() {
                let (np, nl) = place(name)
                let (vp, vl) = place(value)
                nvs[i] = nghttp2_nv(name: np, value: vp, namelen: nl, valuelen: vl, flags: UInt8(NGHTTP2_NV_FLAG_NONE.rawValue))
            }
            return body(UnsafeBufferPointer(rebasing: nvs[0..<headers.count]))
        }
    }

    // MARK: Callback targets

    fileprivate func readBody(streamID: Int32, into buf: UnsafeMutablePointer<UInt8>, length: Int, flags: UnsafeMutablePointer<UInt32>) -> Int {
        switch delegate.sessionReadBody(streamID: streamID, into: UnsafeMutableRawBufferPointer(start: buf, count: length)) {
        case .bytes(let n, let end):
            if end { flags.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue }
            return n
        case .endBeforeTrailers(let n):
            flags.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue | NGHTTP2_DATA_FLAG_NO_END_STREAM.rawValue
            return n
        case .deferred:
            return Int(NGHTTP2_ERR_DEFERRED.rawValue)
        }
    }
}

/// Why received bytes ended a session.
public struct HTTP2ReceiveError: Error, CustomStringConvertible {
    public let message: String
    /// The peer queued more SETTINGS/PING ACKs (or RST_STREAMs) than `maxOutboundAcks` without reading them.
    public let isFlood: Bool
    public var description: String { message }
}

/// An nghttp2 submit failure.
public struct HTTP2SubmitError: Error, CustomStringConvertible {
    public let code: Int32
    public var description: String { String(cString: nghttp2_strerror(code)) }
}

// MARK: - C trampolines: no captures; user_data is the unretained session.

/// The session's delegate for a callback, without retaining either (the session is alive: nghttp2 is inside one of
/// its calls).
private func delegate(_ userData: UnsafeMutableRawPointer?) -> any HTTP2SessionDelegate {
    Unmanaged<HTTP2Session>.fromOpaque(userData!)._withUnsafeGuaranteedRef { $0.delegate }
}

private func frameInfo(_ frame: UnsafePointer<nghttp2_frame>) -> HTTP2Frame {
    let hd = frame.pointee.hd
    let type = HTTP2FrameType(rawValue: hd.type) ?? .unknown
    var info = HTTP2Frame(type: type, flags: hd.flags, streamID: hd.stream_id, length: hd.length,
                          goawayLastStreamID: Int32.max, errorCode: 0, isRequestHeaders: false)
    switch type {
    case .goaway:
        info.goawayLastStreamID = frame.pointee.goaway.last_stream_id
        info.errorCode = frame.pointee.goaway.error_code
    case .rstStream:
        info.errorCode = frame.pointee.rst_stream.error_code
    case .headers:
        info.isRequestHeaders = frame.pointee.headers.cat == NGHTTP2_HCAT_REQUEST
    default:
        break
    }
    return info
}

private let onBeginHeadersCallback: nghttp2_on_begin_headers_callback = { _, frame, userData in
    guard let frame else { return 0 }
    delegate(userData).sessionDidBeginHeaders(streamID: frame.pointee.hd.stream_id)
    return 0
}

private let onHeaderCallback: nghttp2_on_header_callback = { _, frame, name, namelen, value, valuelen, _, userData in
    guard let frame, let name, let value else { return 0 }
    let accepted = delegate(userData).sessionDidReceiveHeader(
        streamID: frame.pointee.hd.stream_id, name: UnsafeBufferPointer(start: name, count: namelen),
        value: UnsafeBufferPointer(start: value, count: valuelen))
    // TEMPORAL_CALLBACK_FAILURE: nghttp2 resets the stream (INTERNAL_ERROR) and skips the rest of the block.
    return accepted ? 0 : NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue
}

private let onFrameRecvCallback: nghttp2_on_frame_recv_callback = { _, frame, userData in
    guard let frame else { return 0 }
    delegate(userData).sessionDidReceiveFrame(frameInfo(frame))
    return 0
}

private let onInvalidFrameRecvCallback: nghttp2_on_invalid_frame_recv_callback = { _, frame, error, userData in
    guard let frame else { return 0 }
    delegate(userData).sessionDidReceiveInvalidFrame(frameInfo(frame), error: error)
    return 0
}

private let onDataChunkRecvCallback: nghttp2_on_data_chunk_recv_callback = { _, _, streamID, data, len, userData in
    delegate(userData).sessionDidReceiveData(streamID: streamID, UnsafeRawBufferPointer(start: data, count: len))
    return 0
}

private let onStreamCloseCallback: nghttp2_on_stream_close_callback = { _, streamID, errorCode, userData in
    delegate(userData).sessionDidCloseStream(streamID: streamID, errorCode: errorCode)
    return 0
}

private let dataReadCallback: nghttp2_data_source_read_callback = { _, streamID, buf, length, flags, _, userData in
    guard let buf, let flags else { return Int(NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue) }
    return Unmanaged<HTTP2Session>.fromOpaque(userData!)._withUnsafeGuaranteedRef {
        $0.readBody(streamID: streamID, into: buf, length: length, flags: flags)
    }
}
