import Config
import Glibc
import Proxy

/// `GET /stats.json`, what the dashboard polls every second: per route and cluster the running totals (calls,
/// non-OK calls, calls by grpc-status, latency histogram buckets) and the calls in flight, so the page computes rates, error ratios and
/// quantiles from the difference between two polls; endpoint health per cluster; the recent non-OK calls of
/// all workers, merged by time. Totals, not rates: a missed poll loses nothing, and two open dashboards agree.
enum StatsView {
    struct RouteRow {
        var calls = 0
        var errors = 0
        var byStatus: [Int: Int] = [:]
        var totals = MetricsSnapshot.RouteTotals()
    }

    /// Calls summed over listeners and transports into (route, cluster), the histogram's key. Routes of the
    /// config that had no call yet are listed with zeros, so the page shows them from the start.
    static func routeRows(config: ProxyConfig, metrics: MetricsSnapshot) -> [(MetricsSnapshot.RouteKey, RouteRow)] {
        var rows: [MetricsSnapshot.RouteKey: RouteRow] = [:]
        for listener in config.listeners {
            for route in listener.routes { rows[MetricsSnapshot.RouteKey(route: route.name, cluster: route.cluster)] = RouteRow() }
        }
        for (key, count) in metrics.calls {
            let routeKey = MetricsSnapshot.RouteKey(route: key.route, cluster: key.cluster)
            rows[routeKey, default: RouteRow()].calls += count
            if key.grpcStatus != 0 { rows[routeKey, default: RouteRow()].errors += count }
            rows[routeKey, default: RouteRow()].byStatus[key.grpcStatus, default: 0] += count
        }
        for (key, totals) in metrics.routes { rows[key, default: RouteRow()].totals = totals }
        return rows.sorted { ($0.key.route, $0.key.cluster) < ($1.key.route, $1.key.cluster) }
    }

    static func render(config: ProxyConfig, reports: [WorkerReport], missing: Int) -> String {
        var metrics = MetricsSnapshot()
        for report in reports { metrics.add(report.metrics) }
        let routes: [AdminJSON] = routeRows(config: config, metrics: metrics).map { key, row in
            .object([
                ("route", .string(key.route)),
                ("cluster", .string(key.cluster)),
                ("calls", .int(row.calls)),
                ("errors", .int(row.errors)),
                ("in_flight", .int(metrics.inFlight[key] ?? 0)),
                ("by_status", .object(row.byStatus.sorted { $0.key < $1.key }.map { (String($0.key), .int($0.value)) })),
                ("buckets", .array(row.totals.bucketCounts.map { .int($0) })),
                ("duration_sum_s", .double(Double(row.totals.durationSumNanos) / 1e9)),
            ])
        }
        let clusters: [AdminJSON] = config.clusters.map { c in
            .object([("name", .string(c.name)), ("endpoints", .array(ClustersView.merged(c.name, reports).endpoints.map(ClustersView.endpointJSON)))])
        }
        // Newest first, at most one worker's worth (the ring size), whichever worker they came from.
        let keep = config.admin?.recentFailedCalls ?? 0
        let failed = reports.flatMap(\.recentFailedCalls).sorted { $0.startUnixNanos > $1.startUnixNanos }.prefix(keep)
        return AdminJSON.object([
            ("time_ms", .int(Int(nowUnixNanos() / 1_000_000))),
            ("workers", .int(config.workers)),
            ("workers_missing", .int(missing)),
            ("bucket_bounds_s", .array(CallDurationBuckets.upperBoundsSeconds.map { .double($0) })),
            ("routes", .array(routes)),
            ("clusters", .array(clusters)),
            ("recent_failed_calls", .array(failed.map(failedCallJSON))),
        ]).render()
    }

    private static func failedCallJSON(_ s: CallSummary) -> AdminJSON {
        .object([
            ("time_ms", .int(Int(s.startUnixNanos / 1_000_000))),
            ("duration_ms", .double(Double(s.durationNanos / 1000) / 1000)),
            ("listener", .string(s.listener)),
            ("route", .string(s.route)),
            ("cluster", .string(s.cluster)),
            ("endpoint", .string(s.endpoint)),
            ("path", .string(s.path)),
            ("transport", .string(s.transport.rawValue)),
            ("grpc_status", .int(s.grpcStatus)),
            ("grpc_message", .string(s.grpcMessage)),
            ("request_id", .string(s.requestID)),
            ("downstream_address", .string(s.downstreamAddress)),
        ])
    }

    private static func nowUnixNanos() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
    }
}
