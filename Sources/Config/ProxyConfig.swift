/// The whole validated configuration. Produced by `ConfigLoader`; every cross reference
/// (route → cluster) has been checked, so consumers can rely on it.
public struct ProxyConfig: Sendable {
    /// Worker threads (event loops); `auto` in the file is resolved to the number of online cores.
    public var workers: Int
    public var logLevel: LogLevel
    /// How long a draining process waits for in-flight calls before closing them.
    public var drainTimeout: Duration
    public var limits: DownstreamLimits
    public var websocket: WebSocketSettings
    /// At least one.
    public var listeners: [ListenerConfig]
    public var clusters: [ClusterConfig]
    public var admin: AdminConfig?
    public var overload: OverloadConfig = OverloadConfig()
    /// nil = no access log.
    public var accessLog: AccessLogConfig?
    /// `jwt_providers:`, referenced by routes' `jwt.provider`.
    public var jwtProviders: [JWTProviderConfig] = []
    /// The document as parsed, written back as YAML with secrets and key file paths redacted (`GET /config`);
    /// "" for a config built in code. See `RedactedYAML`.
    public var redactedYAML: String = ""

    public init(
        workers: Int = 1, logLevel: LogLevel = .info, drainTimeout: Duration = .seconds(10),
        limits: DownstreamLimits = DownstreamLimits(), websocket: WebSocketSettings = WebSocketSettings(),
        listeners: [ListenerConfig] = [], clusters: [ClusterConfig] = [], admin: AdminConfig? = nil
    ) {
        self.workers = workers
        self.logLevel = logLevel
        self.drainTimeout = drainTimeout
        self.limits = limits
        self.websocket = websocket
        self.listeners = listeners
        self.clusters = clusters
        self.admin = admin
    }

    /// Linear search: resolve clusters once at start-up, not per request.
    public func cluster(named name: String) -> ClusterConfig? {
        clusters.first { $0.name == name }
    }
}
