import Config
import Proxy
import Upstream

/// `GET /clusters`: each cluster's settings in brief and its endpoints as the workers see them, merged: health
/// (process-wide), passive ejection (per worker: `ejected_workers` of `workers`), calls and connections summed.
enum ClustersView {
    /// One endpoint over all workers.
    struct MergedEndpoint {
        var address: String
        var healthy = true
        var ejectedWorkers = 0
        var ejectedRemainingNanos: UInt64 = 0
        var consecutiveFailures = 0
        var ejections = 0
        var activeCalls = 0
        var connectionsOpen = 0
        var backingOffWorkers = 0
        var retired = false

        mutating func add(_ s: EndpointStatus) {
            healthy = s.healthy
            if s.ejected { ejectedWorkers += 1 }
            ejectedRemainingNanos = max(ejectedRemainingNanos, s.ejectedRemainingNanos)
            consecutiveFailures = max(consecutiveFailures, s.consecutiveFailures)
            ejections += s.ejections
            activeCalls += s.activeCalls
            connectionsOpen += s.connectionsOpen
            if s.backingOff { backingOffWorkers += 1 }
            retired = retired || s.retired
        }

        /// Worst first: what an operator looks at.
        var state: String {
            if !healthy { return "unhealthy" }
            if ejectedWorkers > 0 { return "ejected" }
            return "healthy"
        }
    }

    /// The endpoints of `cluster` in the order the first answering worker lists them.
    static func merged(_ cluster: String, _ reports: [WorkerReport]) -> (endpoints: [MergedEndpoint], pending: Int) {
        var order: [String] = []
        var byAddress: [String: MergedEndpoint] = [:]
        var pending = 0
        for report in reports {
            guard let status = report.clusters[cluster] else { continue }
            pending += status.pendingCalls
            for s in status.endpoints {
                if byAddress[s.endpoint] == nil { order.append(s.endpoint) }
                byAddress[s.endpoint, default: MergedEndpoint(address: s.endpoint)].add(s)
            }
        }
        return (order.compactMap { byAddress[$0] }, pending)
    }

    static func render(config: ProxyConfig, reports: [WorkerReport], missing: Int) -> String {
        let clusters: [AdminJSON] = config.clusters.map { c in
            let (endpoints, pending) = merged(c.name, reports)
            return .object([
                ("name", .string(c.name)),
                ("endpoints", .array(endpoints.map(endpointJSON))),
                ("pending_calls", .int(pending)),
                ("settings", settings(c)),
            ])
        }
        return AdminJSON.object([
            ("clusters", .array(clusters)),
            ("workers", .int(config.workers)),
            ("workers_missing", .int(missing)),
        ]).render()
    }

    static func endpointJSON(_ e: MergedEndpoint) -> AdminJSON {
        .object([
            ("address", .string(e.address)),
            ("state", .string(e.state)),
            ("healthy", .bool(e.healthy)),
            ("ejected_workers", .int(e.ejectedWorkers)),
            ("ejected_remaining_ms", .int(Int(e.ejectedRemainingNanos / 1_000_000))),
            ("consecutive_failures", .int(e.consecutiveFailures)),
            ("ejections", .int(e.ejections)),
            ("active_calls", .int(e.activeCalls)),
            ("connections_open", .int(e.connectionsOpen)),
            ("backing_off_workers", .int(e.backingOffWorkers)),
            ("retired", .bool(e.retired)),
        ])
    }

    private static func settings(_ c: ClusterConfig) -> AdminJSON {
        .object([
            ("configured_endpoints", .array(c.endpoints.map { .string($0.description) })),
            ("load_balancing", .string(c.loadBalancing.rawValue)),
            ("connect_timeout_ms", .milliseconds(c.connectTimeout)),
            ("max_concurrent_streams", .int(c.maxConcurrentStreams)),
            ("max_connections_per_endpoint", .int(c.maxConnectionsPerEndpoint)),
            ("max_pending", .int(c.maxPending)),
            ("retries", .int(c.retries)),
            ("tls", .bool(c.tls != nil)),
            ("panic_mode", .bool(c.panicMode)),
            ("health_check", .optional(c.healthCheck) { h in
                .object([("interval_ms", .milliseconds(h.interval)), ("timeout_ms", .milliseconds(h.timeout)),
                         ("unhealthy_threshold", .int(h.unhealthyThreshold)), ("healthy_threshold", .int(h.healthyThreshold)),
                         ("service", .string(h.service))])
            }),
            ("outlier_detection", .object([
                ("consecutive_failures", .int(c.outlierDetection.consecutiveFailures)),
                ("base_ejection_time_ms", .milliseconds(c.outlierDetection.baseEjectionTime)),
                ("max_ejection_time_ms", .milliseconds(c.outlierDetection.maxEjectionTime)),
            ])),
        ])
    }
}
