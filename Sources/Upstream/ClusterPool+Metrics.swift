/// One endpoint of one worker's pool, as `/metrics` shows it. Plain values, so it can leave the loop.
public struct EndpointMetrics: Sendable {
    public var endpoint: String
    public var connectionsOpen: Int
    public var connectionsOpened: Int
    public var connectionsFailed: Int
    public var tlsHandshakeFailures = 0
    public var ejections: Int
    public var healthy: Bool

    public init(endpoint: String, connectionsOpen: Int, connectionsOpened: Int, connectionsFailed: Int, ejections: Int, healthy: Bool) {
        self.endpoint = endpoint
        self.connectionsOpen = connectionsOpen
        self.connectionsOpened = connectionsOpened
        self.connectionsFailed = connectionsFailed
        self.ejections = ejections
        self.healthy = healthy
    }
}

extension ClusterPool {
    /// This worker's view of its endpoints (current and retired-but-still-connected); call on the pool's loop.
    /// Counters live on `PoolEndpoint`, so an endpoint that DNS drops and later returns starts again from zero:
    /// a counter reset, which Prometheus' `rate()` handles.
    public func endpointMetrics() -> [EndpointMetrics] {
        (endpoints + retiredEndpoints).map { ep in
            var m = EndpointMetrics(endpoint: ep.shared.key, connectionsOpen: ep.liveConnections, connectionsOpened: ep.connectionsOpened,
                                    connectionsFailed: ep.connectionsFailed, ejections: ep.ejections, healthy: ep.shared.isHealthy)
            m.tlsHandshakeFailures = ep.tlsHandshakeFailures
            return m
        }
    }
}
