public import Upstream

/// What one worker tells the admin endpoint: its labelled metrics, its pools' state and its recent failed calls.
/// Built on the worker's loop (handed over with `loop.execute`), so nothing the workers own needs a lock.
public struct WorkerReport: Sendable {
    public var metrics: MetricsSnapshot
    /// Per cluster name.
    public var clusters: [String: ClusterStatus]
    /// Oldest first; empty unless asked for.
    public var recentFailedCalls: [CallSummary]
}

extension WorkerContext {
    /// Runs on the worker's loop. `recent`: include the failed-calls ring (the dashboard; `/clusters` needs none).
    public func report(recent: Bool) -> WorkerReport {
        WorkerReport(metrics: metricsSnapshot(), clusters: pools.mapValues { $0.status() },
                     recentFailedCalls: recent ? recentFailedCalls.snapshot() : [])
    }
}
