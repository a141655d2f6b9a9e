public import Upstream

/// Every labelled metric of the proxy at one instant: one worker's, or the sum over all of them. Plain values
/// (Sendable), so a worker can build it on its loop and hand it to the admin loop, which sums and renders.
public struct MetricsSnapshot: Sendable, Equatable {
    public struct CallKey: Hashable, Sendable {
        public var listener, route, cluster, transport: String
        public var grpcStatus: Int
    }

    public struct RouteKey: Hashable, Sendable {
        public var route, cluster: String

        public init(route: String, cluster: String) {
            self.route = route
            self.cluster = cluster
        }
    }

    /// Per route and cluster: payload counters and the latency histogram.
    public struct RouteTotals: Sendable, Equatable {
        public var requestBytes = 0, responseBytes = 0, requestMessages = 0, responseMessages = 0
        /// Per-bucket (not cumulative) counts, one per `CallDurationBuckets.upperBoundsNanos` plus +Inf.
        public var bucketCounts = [Int](repeating: 0, count: CallDurationBuckets.upperBoundsNanos.count + 1)
        public var durationSumNanos: UInt64 = 0
        public var count = 0

        public init() {}

        mutating func add(_ other: RouteTotals) {
            requestBytes += other.requestBytes
            responseBytes += other.responseBytes
            requestMessages += other.requestMessages
            responseMessages += other.responseMessages
            for i in bucketCounts.indices { bucketCounts[i] += other.bucketCounts[i] }
            durationSumNanos &+= other.durationSumNanos
            count += other.count
        }
    }

    public struct EndpointKey: Hashable, Sendable {
        public var cluster, endpoint: String
    }

    public struct EndpointTotals: Sendable, Equatable {
        public var connectionsOpen = 0, connectionsOpened = 0, connectionsFailed = 0, tlsHandshakeFailures = 0, ejections = 0
        /// The health checker's verdict is process-wide (`SharedEndpoint`): every worker reports the same one.
        public var healthy = true
    }

    public struct DownstreamKey: Hashable, Sendable {
        public var listener: String
        /// "1.1" or "2".
        public var httpVersion: String
    }

    /// Calls refused before reaching upstream, by what refused them (see `EdgeRejection`).
    public struct RejectionKey: Hashable, Sendable {
        public var listener, route, stage, reason: String
    }

    public var calls: [CallKey: Int] = [:]
    public var rejections: [RejectionKey: Int] = [:]
    public var inFlight: [RouteKey: Int] = [:]
    public var routes: [RouteKey: RouteTotals] = [:]
    public var endpoints: [EndpointKey: EndpointTotals] = [:]
    public var downstreamOpen: [DownstreamKey: Int] = [:]

    public init() {}

    /// Adds another worker's snapshot to this one.
    public mutating func add(_ other: MetricsSnapshot) {
        calls.merge(other.calls, uniquingKeysWith: +)
        rejections.merge(other.rejections, uniquingKeysWith: +)
        inFlight.merge(other.inFlight, uniquingKeysWith: +)
        for (key, totals) in other.routes { routes[key, default: RouteTotals()].add(totals) }
        for (key, e) in other.endpoints {
            var sum = endpoints[key] ?? EndpointTotals(healthy: e.healthy)
            sum.connectionsOpen += e.connectionsOpen
            sum.connectionsOpened += e.connectionsOpened
            sum.connectionsFailed += e.connectionsFailed
            sum.tlsHandshakeFailures += e.tlsHandshakeFailures
            sum.ejections += e.ejections
            endpoints[key] = sum
        }
        downstreamOpen.merge(other.downstreamOpen, uniquingKeysWith: +)
    }

    /// Adds one pool's endpoint view (on the worker's loop, while building its snapshot).
    public mutating func addEndpoints(cluster: String, _ list: [EndpointMetrics]) {
        var one = MetricsSnapshot()
        for m in list {
            one.endpoints[EndpointKey(cluster: cluster, endpoint: m.endpoint)] =
                EndpointTotals(connectionsOpen: m.connectionsOpen, connectionsOpened: m.connectionsOpened,
                               connectionsFailed: m.connectionsFailed, tlsHandshakeFailures: m.tlsHandshakeFailures,
                               ejections: m.ejections, healthy: m.healthy)
        }
        add(one)
    }
}

/// The call-duration histogram's buckets: from 1 ms (a unary call on a LAN) to 1 h (a long server stream).
public enum CallDurationBuckets {
    public static let upperBoundsSeconds: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
                                                      30, 60, 300, 900, 3600]
    /// The same bounds in nanoseconds, so placing an observation compares integers.
    public static let upperBoundsNanos: [UInt64] = upperBoundsSeconds.map { UInt64(($0 * 1e9).rounded()) }

    /// Index of the first bucket whose bound is >= `nanos` (`le` is inclusive); the last index is +Inf.
    @inline(__always) static func index(ofNanos nanos: UInt64) -> Int {
        var i = 0
        while i < upperBoundsNanos.count && nanos > upperBoundsNanos[i] { i += 1 }
        return i
    }
}
