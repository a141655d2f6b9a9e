/// One worker's labelled metrics: plain Ints in dictionaries, touched only on the worker's loop.
///
/// Why per-worker tables and not shared atomics: the label sets are open-ended (routes, clusters and endpoints
/// come from the config and DNS, and change on reload), so shared atomics would need a shared, growing map,
/// i.e. a lock or a lock-free map on every call. Here a finished call costs two dictionary updates on memory
/// only this thread writes, with no atomic and no cache line shared between workers. The price is paid by the
/// scrape: the admin loop asks each worker for a copy through `loop.execute` and sums them (see
/// `ProxyServer.collectMetrics`), a few dictionary copies once every scrape interval.
///
/// Calls report once, when they end (`CallSummary`); the per-route in-flight gauge also hears of their start
/// (`started`, when the call is routed), and the end takes the call off again.
final class MetricsRecorder {
    private var calls: [MetricsSnapshot.CallKey: Int] = [:]
    private var inFlight: [MetricsSnapshot.RouteKey: Int] = [:]
    private var rejections: [MetricsSnapshot.RejectionKey: Int] = [:]
    private var routes: [MetricsSnapshot.RouteKey: MetricsSnapshot.RouteTotals] = [:]
    private var downstreamOpen: [MetricsSnapshot.DownstreamKey: Int] = [:]

    /// The `WorkerContext.callObservers` entry.
    /// A call was routed and starts toward its cluster.
    func started(_ summary: inout CallSummary) {
        summary.inFlight = true
        inFlight[MetricsSnapshot.RouteKey(route: summary.route, cluster: summary.cluster), default: 0] += 1
    }

    func record(_ s: CallSummary) {
        if s.inFlight { inFlight[MetricsSnapshot.RouteKey(route: s.route, cluster: s.cluster), default: 0] -= 1 }
        calls[MetricsSnapshot.CallKey(listener: s.listener, route: s.route, cluster: s.cluster, transport: s.transport.rawValue,
                                      grpcStatus: Self.statusLabel(s.grpcStatus)), default: 0] += 1
        let key = MetricsSnapshot.RouteKey(route: s.route, cluster: s.cluster)
        // Modified in place (`default:` subscript), so the bucket array is not copied per call.
        routes[key, default: MetricsSnapshot.RouteTotals()].observe(s)
    }

    /// An upstream may send any decimal grpc-status; clients read codes outside 0...16 as UNKNOWN (2), and so does
    /// this label, so a hostile upstream cannot grow the table (and every scrape) one series per value.
    static func statusLabel(_ code: Int) -> Int { (0...16).contains(code) ? code : 2 }

    /// A call refused by a limit or an edge rule. `stage` and `reason` come from fixed sets in the code (never
    /// from the request), so the table stays bounded by the config.
    func rejected(listener: String, route: String, stage: String, reason: String) {
        rejections[MetricsSnapshot.RejectionKey(listener: listener, route: route, stage: stage, reason: reason), default: 0] += 1
    }

    func downstreamOpened(listener: String, httpVersion: String) {
        downstreamOpen[MetricsSnapshot.DownstreamKey(listener: listener, httpVersion: httpVersion), default: 0] += 1
    }

    func downstreamClosed(listener: String, httpVersion: String) {
        downstreamOpen[MetricsSnapshot.DownstreamKey(listener: listener, httpVersion: httpVersion), default: 0] -= 1
    }

    /// A copy of the counters (the endpoint part is added by the worker from its pools).
    func snapshot() -> MetricsSnapshot {
        var s = MetricsSnapshot()
        s.calls = calls
        s.inFlight = inFlight
        s.rejections = rejections
        s.routes = routes
        s.downstreamOpen = downstreamOpen
        return s
    }
}

extension MetricsSnapshot.RouteTotals {
    mutating func observe(_ s: CallSummary) {
        requestBytes += s.requestBytes
        responseBytes += s.responseBytes
        requestMessages += s.requestMessages
        responseMessages += s.responseMessages
        bucketCounts[CallDurationBuckets.index(ofNanos: s.durationNanos)] += 1
        durationSumNanos &+= s.durationNanos
        count += 1
    }
}
