/// One endpoint of one worker's pool as the admin endpoint's `/clusters` and the dashboard show it: the health
/// verdict (process-wide), this worker's passive outlier state, its calls and connections. Plain values, so it
/// can leave the loop.
public struct EndpointStatus: Sendable {
    public var endpoint: String
    public var healthy: Bool
    /// Ejected by this worker's outlier detection now, and for how much longer.
    public var ejected: Bool
    public var ejectedRemainingNanos: UInt64
    /// Failures in the current streak (towards `outlier_detection.consecutive_failures`).
    public var consecutiveFailures: Int
    public var ejections: Int
    /// Calls in flight on this worker's connections to the endpoint.
    public var activeCalls: Int
    public var connectionsOpen: Int
    /// In connect back-off after a failed connection attempt.
    public var backingOff: Bool
    /// Dropped by DNS, kept while its connections finish their calls.
    public var retired: Bool
}

/// One worker's pool: its endpoints and the calls waiting for a stream slot.
public struct ClusterStatus: Sendable {
    public var endpoints: [EndpointStatus]
    public var pendingCalls: Int
}

extension ClusterPool {
    /// This worker's view of the cluster; call on the pool's loop. Reads state only (an ejection the health checker
    /// has since lifted shows until the next pick lifts it).
    public func status() -> ClusterStatus {
        let now = loop.now
        func one(_ ep: PoolEndpoint) -> EndpointStatus {
            let ejected = ep.outlier.isEjected(now: now)
            return EndpointStatus(endpoint: ep.shared.key, healthy: ep.shared.isHealthy, ejected: ejected,
                                  ejectedRemainingNanos: ejected ? ep.outlier.ejectedUntil - now : 0,
                                  consecutiveFailures: ep.outlier.consecutiveFailures, ejections: ep.ejections,
                                  activeCalls: ep.inFlight, connectionsOpen: ep.liveConnections,
                                  backingOff: ep.backoff.isBackingOff(now: now), retired: ep.retired)
        }
        return ClusterStatus(endpoints: endpoints.map(one) + retiredEndpoints.map(one), pendingCalls: pending.count)
    }
}
