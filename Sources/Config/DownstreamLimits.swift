/// Bounds on what one browser connection may make the proxy hold (key `limits:`).
public struct DownstreamLimits: Sendable {
    /// Request line plus headers, in bytes (`max_request_headers_size`); above it: 431.
    public var maxRequestHeadersSize: Int
    /// Number of request header fields (`max_headers_count`).
    public var maxHeadersCount: Int
    /// HTTP/1.1 request body in bytes (`max_request_body_size`); 0 = unlimited.
    public var maxRequestBodySize: Int
    /// One gRPC message, each direction (`max_message_size`); above it: RESOURCE_EXHAUSTED.
    public var maxMessageSize: Int
    /// Time allowed for the request head to arrive (`header_read_timeout`).
    public var headerReadTimeout: Duration
    /// Keep-alive idle time before the connection is closed (`idle_timeout`); 0 = none.
    public var idleTimeout: Duration
    /// Request bytes one call may hold toward a slow upstream before the proxy stops reading the browser
    /// (`write_buffer_limit`). The other direction needs no such buffer: the HTTP/2 window is given back only when
    /// the browser's socket has taken the bytes, so at most `initial_stream_window` waits per call.
    public var writeBufferLimit: Int
    /// Open downstream connections per process (`max_connections`).
    public var maxConnections: Int
    /// Response bytes one browser connection may have queued in the proxy (`output_buffer_limit`), the high
    /// watermark: above it the proxy stops reading that socket and processing its next request or WebSocket
    /// message until the queue has drained. What one call adds on top is bounded by its HTTP/2 stream window.
    public var outputBufferLimit: Int
    /// Longest pause between bytes of a request body (`request_body_timeout`); 0 = none. Then the call ends:
    /// 408 and close (or, once the response has started, grpc-status 14 and close), upstream stream reset.
    public var requestBodyTimeout: Duration
    /// The `$httpHeaders` query parameter of a call sent without a CORS preflight, in bytes as sent
    /// (`max_http_headers_param_size`); above it: 431. Its header lines also count against `max_headers_count`.
    public var maxHTTPHeadersParamSize: Int
    /// HTTP/2 connections (`http2:`).
    public var http2 = HTTP2Limits()

    public init(
        maxRequestHeadersSize: Int = 60 * 1024, maxHeadersCount: Int = 100,
        maxRequestBodySize: Int = 16 * 1024 * 1024, maxMessageSize: Int = 4 * 1024 * 1024,
        headerReadTimeout: Duration = .seconds(10), idleTimeout: Duration = .seconds(60),
        writeBufferLimit: Int = 1024 * 1024, maxConnections: Int = 100_000,
        outputBufferLimit: Int = 1024 * 1024, requestBodyTimeout: Duration = .seconds(30),
        maxHTTPHeadersParamSize: Int = 8 * 1024
    ) {
        self.maxHTTPHeadersParamSize = maxHTTPHeadersParamSize
        self.outputBufferLimit = outputBufferLimit
        self.requestBodyTimeout = requestBodyTimeout
        self.maxRequestHeadersSize = maxRequestHeadersSize
        self.maxHeadersCount = maxHeadersCount
        self.maxRequestBodySize = maxRequestBodySize
        self.maxMessageSize = maxMessageSize
        self.headerReadTimeout = headerReadTimeout
        self.idleTimeout = idleTimeout
        self.writeBufferLimit = writeBufferLimit
        self.maxConnections = maxConnections
    }
}
