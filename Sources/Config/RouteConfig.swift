/// One routing rule of a listener. Routes are tried in order; the first that matches wins.
public struct RouteConfig: Sendable {
    public var match: RouteMatchKind
    /// What the operator calls this route in the access log and the metrics: its `name:`, or its match as text
    /// (`prefix:/`, `service:pkg.Svc`, `method:pkg.Svc/M`).
    public var name: String
    /// Extra conditions: each request header must be present with exactly this value.
    /// Names are lower-case.
    public var headers: [(name: String, value: String)]
    /// Name of the cluster (checked to exist).
    public var cluster: String
    /// Whole-call deadline; `.zero` = none (the client's `grpc-timeout` still applies).
    public var timeout: Duration
    /// Per-message request limit for this route; nil = `limits.maxMessageSize`.
    public var maxRequestBytes: Int?
    /// Whether grpc-websockets is accepted on this route; nil = the listener's setting.
    public var websocket: Bool?
    /// Effective CORS policy (listener policy with this route's fields laid over it);
    /// nil = no CORS headers.
    public var cors: CORSPolicy?
    /// JWT verification for calls on this route; nil = none.
    public var jwt: RouteJWT?
    /// Edge rules (issue 13): rate and concurrency limits; header rules in order (the cluster's, then the
    /// route's); the listener's `forwarded_headers`, copied here so a call needs no listener lookup.
    public var limits: RouteLimits?
    public var headerRules: [HeaderRules] = []
    public var forwardedHeaders = ForwardedHeadersConfig()

    public init(
        match: RouteMatchKind, headers: [(name: String, value: String)] = [], cluster: String,
        timeout: Duration = .zero, maxRequestBytes: Int? = nil, websocket: Bool? = nil,
        cors: CORSPolicy? = nil
    ) {
        self.match = match
        self.name = match.defaultName
        self.headers = headers
        self.cluster = cluster
        self.timeout = timeout
        self.maxRequestBytes = maxRequestBytes
        self.websocket = websocket
        self.cors = cors
    }
}
