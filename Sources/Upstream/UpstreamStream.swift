import EventLoop

/// Why an upstream stream ended without a clean END_STREAM from the server.
public enum UpstreamFailure: Sendable, Equatable {
    /// RST_STREAM from the server (or nghttp2 on its behalf) with this HTTP/2 error code.
    case reset(code: UInt32)
    /// No connection could be made (refused, unreachable, DNS) or it timed out.
    case connectFailed(String)
    /// The connection broke while the stream was open.
    case connectionLost(String)
    /// The pool's pending queue is full.
    case overloaded(String)
    /// No endpoint can take calls: all failing health checks or ejected (with no panic mode), or none resolved.
    case noEndpoint(String)
    /// A response header block (headers, trailers or trailers-only) went past the cluster's
    /// `max_response_header_bytes` (name + value + 32 per field, as SETTINGS_MAX_HEADER_LIST_SIZE counts).
    /// The stream was reset; nothing of that block was kept.
    case headerListTooLarge(limit: Int)
}

/// Events of one upstream call. Delivered on the worker loop, from inside nghttp2 processing: a delegate may call
/// back into the stream (consume, cancel, send body) but must not expect those to be written before it returns.
public protocol UpstreamStreamDelegate: AnyObject {
    /// First (non-1xx) HEADERS. `endStream` true means trailers-only.
    func upstreamDidReceiveHeaders(_ stream: UpstreamStream, _ headers: [(String, String)], endStream: Bool)
    /// A DATA payload. The delegate must call `stream.consume(n)` once those bytes have left the proxy.
    func upstreamDidReceiveData(_ stream: UpstreamStream, _ bytes: UnsafeRawBufferPointer)
    /// Trailing HEADERS (END_STREAM).
    func upstreamDidReceiveTrailers(_ stream: UpstreamStream, _ trailers: [(String, String)])
    /// The stream is finished; `failure` is nil after a clean END_STREAM from the server.
    func upstreamDidClose(_ stream: UpstreamStream, failure: UpstreamFailure?)
    /// The request-body buffer fell below its low watermark: the downstream may be read again.
    func upstreamRequestBodyDrained(_ stream: UpstreamStream)
}

/// One call on an upstream HTTP/2 connection, created by a `ClusterPool` before a connection is chosen, so a call
/// can wait for a connection and be retried on another one when the server provably never processed it.
public final class UpstreamStream {
    /// Strong on purpose (a weak reference costs a side-table allocation per call); the cycle with the delegate
    /// is broken when the stream finishes or is cancelled.
    public var delegate: (any UpstreamStreamDelegate)?
    let requestHeaders: [(String, String)]
    /// Request body bytes not yet handed to nghttp2 (pendingBody[pendingOffset...]).
    var pendingBody: [UInt8] = []
    var pendingOffset = 0
    public private(set) var requestBodyEnded = false
    /// A copy of what was sent, kept while small, so a refused stream can be replayed on another connection.
    var replay: [UInt8]? = []
    static let replayLimit = 64 * 1024
    /// Further attempts allowed when the call provably never reached a server (set from the cluster's `retries`).
    var retriesLeft = 0

    /// Strong; cleared when the stream leaves the connection (closed, reset or connection shut down). The
    /// connection-level window of every DATA payload is given back on receipt, so nothing is owed to a connection
    /// once the stream has left it: only the stream's own window waits for `consume`.
    var connection: HTTP2ClientConnection?
    var pool: ClusterPool?
    /// The endpoint of the current attempt, and every endpoint tried so far: retries go elsewhere when they can.
    /// Strong: an endpoint holds no streams (its connections do), so there is no cycle, and a weak reference would
    /// give every endpoint a side table.
    var endpoint: PoolEndpoint?
    /// The endpoint of the current (or last) attempt as `host:port`, nil before one was chosen: for call summaries.
    public var endpointAddress: String? { endpoint?.shared.key }
    var triedEndpoints: [ObjectIdentifier] = []
    /// A health-check call: kept out of passive outlier detection.
    var isProbe = false
    var streamID: Int32 = -1
    var dataDeferred = false
    var receivedHeaders = false
    var receivedEndStream = false
    public private(set) var isFinished = false
    private var cancelled = false

    /// `upstreamRequestBodyDrained` fires when the buffered request body falls below this (or empties).
    static let bodyLowWatermark = 64 * 1024

    init(requestHeaders: [(String, String)], delegate: any UpstreamStreamDelegate) {
        self.requestHeaders = requestHeaders
        self.delegate = delegate
    }

    /// Bytes of request body waiting for the upstream flow-control window.
    public var bufferedRequestBytes: Int { pendingBody.count - pendingOffset }

    /// Appends request-body bytes (already validated gRPC frames).
    public func sendBody(_ bytes: UnsafeRawBufferPointer) {
        guard !isFinished, !requestBodyEnded, bytes.count > 0 else { return }
        if pendingOffset > 0 && pendingOffset == pendingBody.count {
            pendingBody.removeAll(keepingCapacity: true)
            pendingOffset = 0
        }
        pendingBody.append(contentsOf: bytes)
        if replay != nil {
            if replay!.count + bytes.count <= UpstreamStream.replayLimit { replay!.append(contentsOf: bytes) } else { replay = nil }
        }
        connection?.resume(self)
    }

    public func sendBody(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { sendBody($0) }
    }

    /// Half-closes the request (END_STREAM after the buffered body).
    public func endBody() {
        guard !isFinished, !requestBodyEnded else { return }
        requestBodyEnded = true
        connection?.resume(self)
    }

    /// Gives `n` bytes of stream-level flow-control window back to the server: call once the downstream has taken
    /// them. (The connection-level window went back when the bytes arrived.) A no-op once the stream is closed or
    /// cancelled: a closed stream has no window left to open.
    public func consume(_ n: Int) {
        guard n > 0, !cancelled else { return }
        connection?.consumeStreamWindow(self, n)
    }

    /// Cancels the call: RST_STREAM(CANCEL) if it reached a connection, or removal from the pending queue.
    /// No delegate callback follows.
    public func cancel() {
        guard !isFinished else { return }
        isFinished = true
        cancelled = true
        delegate = nil
        if let c = connection {
            c.cancel(self)
        } else {
            pool?.removePending(self)
        }
    }

    /// Marks the stream done and tells the delegate once.
    func finish(_ failure: UpstreamFailure?) {
        guard !isFinished else { return }
        isFinished = true
        pool?.streamFinished(self, failure: failure)
        let d = delegate
        delegate = nil
        d?.upstreamDidClose(self, failure: failure)
    }

    /// True if the call provably did not reach the server and can be sent again elsewhere.
    var canRetry: Bool { !receivedHeaders && retriesLeft > 0 && replay != nil }

    func hasTried(_ ep: PoolEndpoint) -> Bool {
        triedEndpoints.contains(ObjectIdentifier(ep))
    }

    /// Prepares for a new attempt. A stream that was submitted may have handed body bytes to nghttp2: those replay
    /// from the saved copy. One that only waited for a connection still holds its whole body.
    func resetForRetry() {
        retriesLeft -= 1
        connection = nil
        if streamID > 0 {
            pendingBody = replay ?? []
            pendingOffset = 0
        }
        streamID = -1
        dataDeferred = false
    }
}
