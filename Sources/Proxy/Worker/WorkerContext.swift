public import Config
public import EventLoop
public import Transport
public import TLS
public import Upstream
import Glibc

/// Everything one worker's loop owns: its upstream pools, its downstream connections and its drain state.
/// Loop-confined (not Sendable): only the loop thread touches it.
public final class WorkerContext {
    public let id: Int
    public let loop: EventLoop
    public let readBuffer = LoopReadBuffer()
    /// The running config: replaced by a reload (new calls and connections use the new one).
    public private(set) var config: ProxyConfig
    /// Listener contexts by name, replaced by a reload; accepted sockets take the current one.
    private var listenerContexts: [String: ListenerContext] = [:]
    /// Pools a reload replaced or removed, kept until their last connection has closed.
    private var retiredPools: [ClusterPool] = []
    public let stats: ProxyStats
    public private(set) var pools: [String: ClusterPool] = [:]
    public private(set) var draining = false
    /// Open downstream connections, so a drain can close idle ones and tell busy ones to close when done.
    var connections: [ObjectIdentifier: any DownstreamConnection] = [:]
    /// Each open connection's listener and HTTP version, for `grpcwebproxy_downstream_connections_open`.
    private var connectionLabels: [ObjectIdentifier: MetricsSnapshot.DownstreamKey] = [:]
    /// This worker's labelled metrics (per route, cluster, endpoint, listener); see `MetricsRecorder`.
    let metrics = MetricsRecorder()
    /// The last non-OK calls, for the admin dashboard (`admin.recent_failed_calls` per worker; a restart resizes it).
    let recentFailedCalls: RecentFailedCalls
    let overload: OverloadMonitor
    /// The edge rules (JWT, rate limits, header rules) with this worker's state; rebuilt by a reload.
    private(set) var edge: EdgePolicy
    /// TLS listeners' contexts by listener name, shared by all workers; replaced on certificate rotation (new
    /// connections use the new one, open ones keep theirs).
    public private(set) var tlsListeners: [String: TLSServerContext]

    /// Worker 0 also runs the clusters' active health checks; their verdicts reach the other workers through the
    /// `SharedEndpoint`s they all hold.
    public init(id: Int, loop: EventLoop, config: ProxyConfig, stats: ProxyStats, resolvedClusters: [String: [SharedEndpoint]],
                tlsListeners: [String: TLSServerContext] = [:], tlsClusters: [String: TLSClientContext] = [:]) {
        self.id = id
        self.loop = loop
        self.config = config
        self.stats = stats
        self.tlsListeners = tlsListeners
        overload = OverloadMonitor(config: config.overload)
        recentFailedCalls = RecentFailedCalls(capacity: config.admin?.recentFailedCalls ?? 0)
        edge = EdgePolicy(config: config, metrics: metrics)
        for cluster in config.clusters {
            addPool(cluster, tls: tlsClusters[cluster.name], endpoints: resolvedClusters[cluster.name] ?? [])
        }
        callObservers.append { [metrics] in metrics.record($0) }
        if recentFailedCalls.capacity > 0 { callObservers.append { [recentFailedCalls] in recentFailedCalls.record($0) } }
        scheduleHousekeeping()
    }

    // MARK: Housekeeping and overload

    /// Every 100 ms: the overload check, and this loop's timer counts published to `/metrics` (a loop's own state
    /// is read only on its thread; the stats are atomics).
    private func scheduleHousekeeping() {
        // Lives as long as the worker's loop: never cancelled, so its handle is not kept. Strong capture: a weak
        // one would give the context a side table, and every connection's `unowned` reference to it would then
        // take reference counting's slow path on each access (seen in profiles).
        _ = loop.scheduleTimer(after: OverloadMonitor.checkInterval) { [self] in
            self.publishTimerCounts()
            if !self.retiredPools.isEmpty { self.retiredPools.removeAll { !$0.hasOpenConnections } }
            if self.config.overload.isEnabled {
                self.overload.sample()
                if self.overload.level == .resetLargest { self.resetLargestConnections() }
            }
            self.scheduleHousekeeping()
        }
    }

    private var publishedTimers = 0
    private var publishedTimerHeapEntries = 0

    private func publishTimerCounts() {
        let live = loop.liveTimers, entries = loop.timerHeapEntries
        stats.timersLive.add(live - publishedTimers)
        stats.timerHeapEntries.add(entries - publishedTimerHeapEntries)
        publishedTimers = live
        publishedTimerHeapEntries = entries
    }

    /// Over budget: reset this worker's downstream connections with the largest queues (the clients that do not
    /// read) until pressure is back below `OverloadConfig.resetUntilBelow`. Connections with nothing queued are
    /// never reset: they are not what holds the memory.
    private func resetLargestConnections() {
        for _ in 0..<64 {
            guard overload.pressure >= OverloadConfig.resetUntilBelow else { return }
            guard let largest = connections.values.max(by: { $0.bufferedResponseBytes < $1.bufferedResponseBytes }),
                  largest.bufferedResponseBytes > 0 else { return }
            Log.warn("overload", "resetting a connection holding \(largest.bufferedResponseBytes) queued bytes: \(overload.description)")
            stats.overloadConnectionsResetTotal.add(1)
            largest.close(reset: true)
        }
    }


    /// A config reload, on this worker's loop between two events. New calls and connections use the new routes,
    /// limits and clusters; calls in flight finish on what they started with. `changedClusters`: clusters added or
    /// whose settings changed (a new pool); unchanged ones keep their pool, connections, health and outlier state.
    public func applyReload(config newConfig: ProxyConfig, listeners: [String: ListenerContext],
                            tlsListeners newTLS: [String: TLSServerContext], tlsClusters: [String: TLSClientContext],
                            endpoints: [String: [SharedEndpoint]], changedClusters: Set<String>) {
        config = newConfig
        edge = EdgePolicy(config: newConfig, metrics: metrics)
        listenerContexts = listeners
        tlsListeners = newTLS
        let names = Set(newConfig.clusters.map(\.name))
        for (name, pool) in pools where !names.contains(name) || changedClusters.contains(name) {
            pool.retire()
            retiredPools.append(pool)
            pools[name] = nil
        }
        for cluster in newConfig.clusters {
            if let pool = pools[cluster.name] {
                if let context = tlsClusters[cluster.name] { pool.replaceTLSContext(context) }
                continue
            }
            addPool(cluster, tls: tlsClusters[cluster.name], endpoints: endpoints[cluster.name] ?? [])
        }
    }

    /// A cluster's pool on this worker; worker 0 also runs its health checks (shared through `SharedEndpoint`).
    private func addPool(_ cluster: ClusterConfig, tls: TLSClientContext?, endpoints: [SharedEndpoint]) {
        var settings = UpstreamSettings(cluster)
        settings.tls = tls
        let pool = ClusterPool(name: cluster.name, loop: loop, endpoints: endpoints, settings: settings,
                               readBuffer: readBuffer, seed: id)
        pools[cluster.name] = pool
        if id == 0 { pool.startHealthChecks() }
    }

    /// Certificate rotation: handshakes from now on use the new contexts.
    public func replaceTLS(listeners: [String: TLSServerContext], clusters: [String: TLSClientContext]) {
        tlsListeners = listeners
        for (name, context) in clusters { pools[name]?.replaceTLSContext(context) }
    }

    /// Every call ends here once, with what the operator sees of it. The access log and the per-route metrics
    /// hang off this one hook (issue 12); each must stay cheap and never block the loop.
    public var callObservers: [(CallSummary) -> Void] = []
    /// Request and trace ids (one generator per worker: no lock, no syscall per id).
    var idRandom = IDRandom()

    func callFinished(_ summary: CallSummary) {
        for observe in callObservers { observe(summary) }
    }

    /// This worker's labelled metrics with its pools' endpoints; runs on the worker's loop (the admin scrape hands
    /// the request over with `loop.execute`).
    public func metricsSnapshot() -> MetricsSnapshot {
        var snapshot = metrics.snapshot()
        for (name, pool) in pools { snapshot.addEndpoints(cluster: name, pool.endpointMetrics()) }
        return snapshot
    }

    /// A key set fetched from a JWT provider's `jwks_uri` (runs on this worker's loop, handed over by the fetcher).
    public func replaceJWTKeys(_ keys: JWTKeySet, provider: String, uri: String) {
        edge.replaceJWTKeys(keys, provider: provider, uri: uri)
    }

    /// A new DNS answer for `cluster` (runs on this worker's loop, handed over by the resolver thread).
    public func updateEndpoints(cluster: String, _ endpoints: [SharedEndpoint]) {
        pools[cluster]?.updateEndpoints(endpoints)
    }

    /// Starts serving an accepted socket.
    public func accept(fd: Int32, listener bound: ListenerContext) {
        let listener = listenerContexts[bound.config.name] ?? bound
        if overload.level >= .stopAccepting {
            // Accept-and-close rather than leaving clients in the backlog: they fail fast and can go elsewhere.
            stats.overloadConnectionsRefusedTotal.add(1)
            Glibc.close(fd)
            return
        }
        let c = DownstreamHTTP1Connection(fd: fd, worker: self, listener: listener)
        connections[ObjectIdentifier(c)] = c
        let labels = MetricsSnapshot.DownstreamKey(listener: listener.config.name, httpVersion: "1.1")
        connectionLabels[ObjectIdentifier(c)] = labels
        metrics.downstreamOpened(listener: labels.listener, httpVersion: labels.httpVersion)
        stats.downstreamConnectionsTotal.add(1)
        stats.downstreamConnectionsActive.add(1)
    }

    /// An HTTP/1.1 connection that turned out to speak HTTP/2 (ALPN h2, or the prior-knowledge preface) hands its
    /// socket over; the socket stays counted as one open connection.
    func connectionSwitched(from old: any DownstreamConnection, to new: any DownstreamConnection) {
        guard connections.removeValue(forKey: ObjectIdentifier(old)) != nil else { return }
        connections[ObjectIdentifier(new)] = new
        if let old = connectionLabels.removeValue(forKey: ObjectIdentifier(old)) {
            metrics.downstreamClosed(listener: old.listener, httpVersion: old.httpVersion)
            connectionLabels[ObjectIdentifier(new)] = MetricsSnapshot.DownstreamKey(listener: old.listener, httpVersion: "2")
            metrics.downstreamOpened(listener: old.listener, httpVersion: "2")
        }
    }

    func connectionClosed(_ c: any DownstreamConnection) {
        if connections.removeValue(forKey: ObjectIdentifier(c)) != nil {
            stats.downstreamConnectionsActive.subtract(1)
        }
        if let labels = connectionLabels.removeValue(forKey: ObjectIdentifier(c)) {
            metrics.downstreamClosed(listener: labels.listener, httpVersion: labels.httpVersion)
        }
    }

    /// A reload removed or moved these listeners: their connections drain like a process drain's (idle ones close
    /// now, busy ones after their current response), while the worker goes on serving the others.
    public func drainConnections(ofListeners names: Set<String>) {
        guard !names.isEmpty else { return }
        for (id, c) in connections where names.contains(connectionLabels[id]?.listener ?? "") { c.drain() }
    }

    /// Graceful drain: idle keep-alive connections close now, busy ones after their current response.
    public func startDrain() {
        draining = true
        for c in Array(connections.values) { c.drain() }
    }
}

/// A listener's compiled, immutable view shared by its workers.
public final class ListenerContext: Sendable {
    public let config: ListenerConfig
    public let routes: RouteTable
    public init(config: ListenerConfig) {
        self.config = config
        self.routes = RouteTable(routes: config.routes)
    }
}
