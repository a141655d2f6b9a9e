/// A named group of upstream gRPC servers reached over HTTP/2.
public struct ClusterConfig: Sendable {
    public var name: String
    /// Never empty. Host names are re-resolved every `dnsRefresh`.
    public var endpoints: [SocketAddressSpec]
    public var connectTimeout: Duration
    public var loadBalancing: LoadBalancing
    /// Streams we open per connection at most; the server's SETTINGS may lower it.
    public var maxConcurrentStreams: Int
    /// Connections per endpoint per worker.
    public var maxConnectionsPerEndpoint: Int
    /// Requests allowed to wait for a stream slot before new ones fail with UNAVAILABLE.
    public var maxPending: Int
    /// HTTP/2 PING period on idle connections; `.zero` = off.
    public var keepaliveInterval: Duration
    /// How long a PING may stay unanswered before the connection is dropped.
    public var keepaliveTimeout: Duration
    public var dnsRefresh: Duration
    /// Retries of a call that never reached a server (connect failure, refused stream).
    public var retries: Int
    /// nil = no active health checking.
    public var healthCheck: HealthCheckConfig?
    public var outlierDetection: OutlierDetectionConfig
    /// When every endpoint is unhealthy or ejected, use them all anyway instead of failing.
    public var panicMode: Bool
    /// HTTP/2 SETTINGS_INITIAL_WINDOW_SIZE we advertise (per stream).
    public var initialStreamWindow: Int
    /// Connection-level receive window we grant with WINDOW_UPDATE.
    public var initialConnectionWindow: Int
    /// One response header block (headers, trailers or trailers-only), counted as HTTP/2 does (name + value + 32
    /// per field): advertised as SETTINGS_MAX_HEADER_LIST_SIZE and enforced as fields arrive.
    public var maxResponseHeaderBytes: Int
    /// nil = cleartext HTTP/2 (prior knowledge).
    public var tls: UpstreamTLSConfig?
    /// `request_headers` / `response_headers` / `response_trailers` for every route to this cluster (applied
    /// before the route's own).
    public var headerRules: HeaderRules?

    public init(
        name: String, endpoints: [SocketAddressSpec], connectTimeout: Duration = .seconds(5),
        loadBalancing: LoadBalancing = .roundRobin, maxConcurrentStreams: Int = 1024,
        maxConnectionsPerEndpoint: Int = 4, maxPending: Int = 1024, keepaliveInterval: Duration = .zero,
        keepaliveTimeout: Duration = .seconds(20), dnsRefresh: Duration = .seconds(30), retries: Int = 2,
        healthCheck: HealthCheckConfig? = nil, outlierDetection: OutlierDetectionConfig = OutlierDetectionConfig(),
        panicMode: Bool = false, initialStreamWindow: Int = 1024 * 1024,
        initialConnectionWindow: Int = 16 * 1024 * 1024, maxResponseHeaderBytes: Int = 64 * 1024, tls: UpstreamTLSConfig? = nil
    ) {
        self.maxResponseHeaderBytes = maxResponseHeaderBytes
        self.tls = tls
        self.name = name
        self.endpoints = endpoints
        self.connectTimeout = connectTimeout
        self.loadBalancing = loadBalancing
        self.maxConcurrentStreams = maxConcurrentStreams
        self.maxConnectionsPerEndpoint = maxConnectionsPerEndpoint
        self.maxPending = maxPending
        self.keepaliveInterval = keepaliveInterval
        self.keepaliveTimeout = keepaliveTimeout
        self.dnsRefresh = dnsRefresh
        self.retries = retries
        self.healthCheck = healthCheck
        self.outlierDetection = outlierDetection
        self.panicMode = panicMode
        self.initialStreamWindow = initialStreamWindow
        self.initialConnectionWindow = initialConnectionWindow
    }
}
