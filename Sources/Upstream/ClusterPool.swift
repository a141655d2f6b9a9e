public import Config
public import EventLoop
public import TLS
public import Transport

/// Connection and balancing settings for one cluster's upstream connections.
public struct UpstreamSettings: Sendable {
    public var connectTimeout: Duration = .seconds(5)
    public var maxConcurrentStreams = 1024
    public var maxConnectionsPerEndpoint = 4
    public var maxPending = 1024
    public var keepaliveInterval: Duration = .zero
    public var keepaliveTimeout: Duration = .seconds(20)
    public var initialStreamWindow = 1 << 20
    public var initialConnectionWindow = 16 << 20
    public var maxResponseHeaderBytes = 64 * 1024
    public var loadBalancing: LoadBalancing = .roundRobin
    /// Further attempts for a call that provably never reached a server.
    public var retries = 2
    /// nil = no active health checking.
    public var healthCheck: HealthCheckConfig?
    public var outlierDetection = OutlierDetectionConfig()
    /// With every endpoint unhealthy or ejected, use them all rather than failing calls.
    public var panicMode = false
    /// nil = cleartext (h2c with prior knowledge). Shared by every worker; replaced on certificate rotation.
    public var tls: TLSClientContext?
    /// SNI and verified name; nil = each endpoint's configured host.
    public var tlsServerName: String?

    public init() {}

    public init(_ c: ClusterConfig) {
        connectTimeout = c.connectTimeout
        maxConcurrentStreams = c.maxConcurrentStreams
        maxConnectionsPerEndpoint = c.maxConnectionsPerEndpoint
        maxPending = c.maxPending
        keepaliveInterval = c.keepaliveInterval
        keepaliveTimeout = c.keepaliveTimeout
        initialStreamWindow = c.initialStreamWindow
        maxResponseHeaderBytes = c.maxResponseHeaderBytes
        initialConnectionWindow = c.initialConnectionWindow
        loadBalancing = c.loadBalancing
        retries = c.retries
        healthCheck = c.healthCheck
        outlierDetection = c.outlierDetection
        panicMode = c.panicMode
        tlsServerName = c.tls?.serverName
    }
}

/// Per worker and per cluster: the endpoints (as DNS last resolved them), HTTP/2 connections to each, multiplexing
/// calls up to the server's MAX_CONCURRENT_STREAMS, opening connections on demand, and a bounded queue for calls
/// that cannot get a stream. Picks an endpoint per call (round robin, or least-request by power of two choices on
/// this worker's in-flight calls), skipping endpoints that the health checker marked unhealthy or that passive
/// outlier detection ejected, and retries calls that never reached a server on another endpoint.
/// Loop-confined: no locks; health verdicts are read from `SharedEndpoint` atomics.
public final class ClusterPool {
    public let name: String
    let loop: EventLoop
    private(set) var settings: UpstreamSettings
    let readBuffer: LoopReadBuffer
    private(set) var endpoints: [PoolEndpoint] = []
    /// Endpoints DNS dropped that still carry calls; their connections close once idle.
    private var retired: [PoolEndpoint] = []
    /// Endpoints DNS dropped that still have connections (for `endpointMetrics`).
    var retiredEndpoints: [PoolEndpoint] { retired }
    /// Calls waiting for a stream slot (`max_pending`); read by `status()` for the admin endpoint.
    private(set) var pending: [UpstreamStream] = []
    private var draining = false
    private var drainAgain = false
    /// Round-robin position (an index into `endpoints`).
    private var cursor = 0
    private var rng: SplitMix64
    /// Scratch list of candidate indices, reused by every pick.
    private var candidates: [Int] = []
    private var healthChecker: HealthChecker?

    /// `seed` spreads workers: each starts its rotation at a different endpoint and draws different random pairs.
    public init(name: String, loop: EventLoop, endpoints: [SharedEndpoint], settings: UpstreamSettings, readBuffer: LoopReadBuffer,
                seed: Int = 0) {
        self.name = name
        self.loop = loop
        self.settings = settings
        self.readBuffer = readBuffer
        self.rng = SplitMix64(seed: UInt64(truncatingIfNeeded: seed) &* 0x2545_F491_4F6C_DD1D ^ MonotonicClock.nowNanos())
        self.endpoints = endpoints.map { PoolEndpoint(shared: $0, pool: self) }
        if !self.endpoints.isEmpty { cursor = seed % self.endpoints.count }
    }

    /// Number of upstream connections currently open or opening (for metrics and tests).
    public var connectionCount: Int {
        endpoints.reduce(0) { $0 + $1.connections.count } + retired.reduce(0) { $0 + $1.connections.count }
    }

    /// Current endpoints, in resolver order.
    public var endpointAddresses: [SocketAddress] { endpoints.map(\.address) }

    /// Starts a call. The stream is returned at once; failures arrive through the delegate on a later turn,
    /// never from inside this call, so callers need not handle re-entrancy.
    public func startStream(headers: [(String, String)], delegate: any UpstreamStreamDelegate) -> UpstreamStream {
        let stream = UpstreamStream(requestHeaders: headers, delegate: delegate)
        stream.pool = self
        stream.retriesLeft = settings.retries
        switch place(stream, allowTried: true) {
        case .placed: break
        case .overloaded(let why): failLater(stream, .overloaded(why))
        case .unavailable(let why): failLater(stream, .noEndpoint(why))
        }
        return stream
    }

    /// Makes this pool the cluster's health checker (one worker does it for the whole process).
    public func startHealthChecks() {
        guard let config = settings.healthCheck, healthChecker == nil else { return }
        let checker = HealthChecker(pool: self, config: config)
        healthChecker = checker
        checker.sync(endpoints)
    }

    // MARK: Picking an endpoint

    private enum Choice {
        case connection(HTTP2ClientConnection, PoolEndpoint)
        /// Candidates exist but every one is at its stream and connection caps.
        case busy
        case unavailable(String)
    }

    private enum Placement {
        case placed
        case overloaded(String)
        case unavailable(String)
    }

    /// Healthy (active checks) and not ejected (passive detection).
    private func isAvailable(_ ep: PoolEndpoint, _ now: UInt64) -> Bool {
        ep.shared.isHealthy && !isEjected(ep, now)
    }

    /// Passive ejection, lifted early when the health checker has since seen the endpoint recover (a failure
    /// streak that active checks prove over should not keep a good endpoint out for the whole back-off).
    private func isEjected(_ ep: PoolEndpoint, _ now: UInt64) -> Bool {
        guard ep.outlier.isEjected(now: now) else { return false }
        let recoveries = ep.shared.recoveryCount
        guard recoveries != ep.seenRecoveries else { return true }
        ep.seenRecoveries = recoveries
        ep.outlier.lift(now: now)
        Log.info("upstream", "cluster \(name): \(ep.address) passed its health checks again; ejection lifted")
        return false
    }

    /// Attaches the stream to a connection, queues it, or says why neither is possible.
    private func place(_ stream: UpstreamStream, allowTried: Bool) -> Placement {
        switch choose(for: stream, allowTried: allowTried) {
        case .connection(let c, let ep):
            attach(stream, to: c, on: ep)
            return .placed
        case .busy:
            if pending.count >= settings.maxPending {
                return .overloaded("cluster \(name) is overloaded: \(pending.count) calls already waiting for a stream")
            }
            pending.append(stream)
            return .placed
        case .unavailable(let why):
            return .unavailable(why)
        }
    }

    private func attach(_ stream: UpstreamStream, to c: HTTP2ClientConnection, on ep: PoolEndpoint) {
        stream.endpoint = ep
        stream.triedEndpoints.append(ObjectIdentifier(ep))
        c.attach(stream)
    }

    /// Ranks the available endpoints (untried before tried, not backing off before backing off), keeps the best
    /// rank, then applies the balancing policy among those.
    private func choose(for stream: UpstreamStream, allowTried: Bool) -> Choice {
        if endpoints.isEmpty { return .unavailable("cluster \(name) has no resolved endpoints") }
        let now = loop.now
        var available = 0
        for ep in endpoints where isAvailable(ep, now) { available += 1 }
        let ignoreHealth = available == 0 && settings.panicMode
        if available == 0 && !ignoreHealth { return .unavailable(noAvailableEndpointMessage(now)) }
        var best = Int.max
        candidates.removeAll(keepingCapacity: true)
        for i in endpoints.indices {
            let ep = endpoints[i]
            guard ignoreHealth || isAvailable(ep, now) else { continue }
            let tried = stream.hasTried(ep)
            if tried && !allowTried { continue }
            let rank = (tried ? 2 : 0) + (ep.backoff.isBackingOff(now: now) ? 1 : 0)
            if rank < best {
                best = rank
                candidates.removeAll(keepingCapacity: true)
            }
            if rank == best { candidates.append(i) }
        }
        if candidates.isEmpty { return .unavailable("no other endpoint of cluster \(name) to retry on") }
        switch settings.loadBalancing {
        case .roundRobin: return pickRoundRobin()
        case .leastRequest: return pickLeastRequest()
        }
    }

    /// The next candidate at or after the cursor that can take a stream.
    private func pickRoundRobin() -> Choice {
        let n = candidates.count
        var start = 0
        while start < n && candidates[start] < cursor { start += 1 }
        for k in 0..<n {
            let i = candidates[(start + k) % n]
            let ep = endpoints[i]
            if let c = ep.acquireConnection(loop: loop, readBuffer: readBuffer, settings: settings) {
                cursor = (i + 1) % endpoints.count
                return .connection(c, ep)
            }
        }
        return .busy
    }

    /// Power of two choices: two random candidates, the one with fewer calls in flight on this worker wins; when
    /// both are full, the least loaded candidate that can still take a stream.
    private func pickLeastRequest() -> Choice {
        let n = candidates.count
        if n >= 2 {
            let a = Int.random(in: 0..<n, using: &rng)
            var b = Int.random(in: 0..<(n - 1), using: &rng)
            if b >= a { b += 1 }
            var first = endpoints[candidates[a]]
            var second = endpoints[candidates[b]]
            if second.inFlight < first.inFlight { swap(&first, &second) }
            for ep in [first, second] {
                if let c = ep.acquireConnection(loop: loop, readBuffer: readBuffer, settings: settings) { return .connection(c, ep) }
            }
        }
        var best: PoolEndpoint?
        var bestLoad = Int.max
        for i in candidates {
            let ep = endpoints[i]
            guard ep.canTakeStream(maxConnections: settings.maxConnectionsPerEndpoint) else { continue }
            let load = ep.inFlight
            if load < bestLoad {
                best = ep
                bestLoad = load
            }
        }
        if let ep = best, let c = ep.acquireConnection(loop: loop, readBuffer: readBuffer, settings: settings) {
            return .connection(c, ep)
        }
        return .busy
    }

    private func noAvailableEndpointMessage(_ now: UInt64) -> String {
        var unhealthy = 0
        var ejected = 0
        for ep in endpoints {
            if !ep.shared.isHealthy { unhealthy += 1 } else if isEjected(ep, now) { ejected += 1 }
        }
        var parts: [String] = []
        if unhealthy > 0 { parts.append("\(unhealthy) failing health checks") }
        if ejected > 0 { parts.append("\(ejected) ejected after repeated failures") }
        return "cluster \(name) has no healthy endpoint (\(endpoints.count) endpoint(s): \(parts.joined(separator: ", ")))"
    }

    // MARK: Pending queue

    private func failLater(_ stream: UpstreamStream, _ failure: UpstreamFailure) {
        loop.deferUntilEndOfIteration { stream.finish(failure) }
    }

    func removePending(_ stream: UpstreamStream) {
        pending.removeAll { $0 === stream }
    }

    /// Moves waiting calls onto connections with free streams, oldest first. Not re-entered: a call that finishes
    /// (and whose owner starts or cancels other calls) from inside makes the outer loop run again instead.
    private func drainPending() {
        if draining {
            drainAgain = true
            return
        }
        draining = true
        defer { draining = false }
        repeat {
            drainAgain = false
            queue: while !pending.isEmpty {
                let s = pending[0]
                if s.isFinished {
                    pending.removeFirst()
                    continue
                }
                switch choose(for: s, allowTried: true) {
                case .connection(let c, let ep):
                    pending.removeFirst()
                    attach(s, to: c, on: ep)
                case .busy:
                    break queue
                case .unavailable(let why):
                    pending.removeFirst()
                    s.finish(.noEndpoint(why))
                }
            }
        } while drainAgain
    }

    // MARK: Connection events (from PoolEndpoint)

    func connectionBecameReady(_ c: HTTP2ClientConnection, on ep: PoolEndpoint) {
        drainPending()
    }

    func connectionHasCapacity(_ c: HTTP2ClientConnection, on ep: PoolEndpoint) {
        if ep.retired {
            closeIfIdle(c)
            return
        }
        drainPending()
    }

    func connectionClosed(_ c: HTTP2ClientConnection, on ep: PoolEndpoint, failedWaiting: [UpstreamStream], reason: String, connectFailed: Bool) {
        if connectFailed {
            ep.backoff.connectFailed(now: loop.now)
            // Passive detection judges real traffic: a connect failure only a health check was waiting for is the
            // checker's business.
            if failedWaiting.contains(where: { !$0.isProbe }) { recordFailure(ep, reason) }
        }
        for s in failedWaiting where !s.isFinished {
            s.connection = nil
            // Waiting streams never reached a server: another endpoint may take them.
            guard s.retriesLeft > 0 else {
                s.finish(connectFailed ? .connectFailed(reason) : .connectionLost(reason))
                continue
            }
            s.resetForRetry()
            switch place(s, allowTried: false) {
            case .placed: break
            case .overloaded(let why): s.finish(.overloaded(why))
            case .unavailable: s.finish(connectFailed ? .connectFailed(reason) : .connectionLost(reason))
            }
        }
        if ep.retired && ep.connections.isEmpty { retired.removeAll { $0 === ep } }
        // Calls still pending would otherwise wait for a connection nobody opens.
        if connectFailed && !pending.isEmpty && !endpoints.contains(where: { $0.liveConnections > 0 }) {
            let stranded = pending
            pending = []
            for s in stranded where !s.isFinished { s.finish(.connectFailed(reason)) }
        } else {
            drainPending()
        }
    }

    func connectionRefusedStream(_ c: HTTP2ClientConnection, _ stream: UpstreamStream) {
        stream.resetForRetry()
        // Retry on the next turn: nghttp2 is mid-callback on the refusing connection.
        // Strong captures here and in the ejection timer: a pool lives as long as its worker, and a weak
        // reference would give it a side table (slow reference counting on every call through it).
        loop.deferUntilEndOfIteration { [self] in
            guard !stream.isFinished else { return }
            switch self.place(stream, allowTried: true) {
            case .placed: break
            case .overloaded(let why): stream.finish(.overloaded(why))
            case .unavailable(let why): stream.finish(.noEndpoint(why))
            }
        }
    }

    private func closeIfIdle(_ c: HTTP2ClientConnection) {
        // Deferred: this may run inside nghttp2's callbacks for that very connection.
        loop.deferUntilEndOfIteration {
            if c.isIdle && c.state != .closed { c.shutdown(reason: "endpoint removed from DNS", connectFailed: false) }
        }
    }

    // MARK: Outcomes of calls (passive outlier detection)

    /// Called by every stream of this pool when it finishes.
    func streamFinished(_ stream: UpstreamStream, failure: UpstreamFailure?) {
        guard !stream.isProbe, let ep = stream.endpoint else { return }
        switch failure {
        case nil:
            ep.outlier.recordSuccess()
        case .reset(let code)?:
            // NO_ERROR and CANCEL are how calls end early on purpose (deadlines, cancellation), not faults.
            if code == 0 || code == 8 { return }
            recordFailure(ep, "stream reset with HTTP/2 error code \(code)")
        case .connectionLost(let why)?:
            recordFailure(ep, why)
        case .headerListTooLarge(let limit)?:
            recordFailure(ep, "response header list over \(limit) bytes")
        case .connectFailed?, .overloaded?, .noEndpoint?:
            // Connect failures are counted once per connection attempt, in connectionClosed.
            return
        }
    }

    /// Counts a failure; ejects the endpoint when the streak reaches `consecutive_failures`. The last available
    /// endpoint is never ejected: with nowhere else to send calls, failing them all is worse than trying it.
    private func recordFailure(_ ep: PoolEndpoint, _ why: String) {
        let now = loop.now
        guard !ep.retired, ep.outlier.recordFailure(now: now, config: settings.outlierDetection) else { return }
        let streak = ep.outlier.consecutiveFailures
        guard endpoints.contains(where: { $0 !== ep && isAvailable($0, now) }) else {
            Log.debug("upstream", "cluster \(name): \(ep.address) failed \(streak) times in a row but is the last available endpoint; not ejected")
            return
        }
        let length = ep.outlier.eject(now: now, config: settings.outlierDetection)
        ep.ejections += 1
        let until = ep.outlier.ejectedUntil
        ep.seenRecoveries = ep.shared.recoveryCount
        Log.warn("upstream", "cluster \(name): ejecting \(ep.address) for \(length) after \(streak) consecutive failures (last: \(why))")
        _ = loop.scheduleTimer(after: length) { [self, ep] in
            // Skipped when this ejection was lifted early (or replaced by a newer one).
            guard !ep.retired, ep.outlier.ejectedUntil == until else { return }
            Log.info("upstream", "cluster \(self.name): \(ep.address) is back from ejection")
            self.drainPending()
        }
    }

    // MARK: Probes (health checks)

    /// The health checker re-admitted an endpoint: queued calls may go there now.
    func healthBecameGood() {
        drainPending()
    }

    /// Starts a call pinned to `ep`, outside balancing, health and retries: the health checker's probe.
    /// nil when the endpoint has no free stream and no room for another connection.
    func startProbe(on ep: PoolEndpoint, headers: [(String, String)], delegate: any UpstreamStreamDelegate) -> UpstreamStream? {
        guard let c = ep.acquireConnection(loop: loop, readBuffer: readBuffer, settings: settings) else { return nil }
        let stream = UpstreamStream(requestHeaders: headers, delegate: delegate)
        stream.pool = self
        stream.isProbe = true
        stream.retriesLeft = 0
        stream.endpoint = ep
        c.attach(stream)
        return stream
    }

    // MARK: DNS updates

    /// Replaces the endpoint list with a new DNS answer. Endpoints still present keep their connections and state;
    /// new ones start fresh; dropped ones take no new calls and close their connections once idle.
    /// New TLS files (SIGHUP): connections opened from now on use `context`; open ones keep theirs.
    public func replaceTLSContext(_ context: TLSClientContext) {
        settings.tls = context
    }

    /// A config reload removed or changed this cluster: no more health checks; calls in flight finish on their
    /// connections, which close once idle. The worker keeps the pool until `hasOpenConnections` is false (its
    /// endpoints point back at it).
    public func retire() {
        healthChecker = nil
        updateEndpoints([])
    }

    public var hasOpenConnections: Bool {
        endpoints.contains { !$0.connections.isEmpty } || retired.contains { !$0.connections.isEmpty }
    }

    /// Clusters with TLS whose certificates are not verified (`verify: false`), for the start-up warning.
    public var skipsCertificateVerification: Bool { settings.tls.map { !$0.settings.verify } ?? false }

    public func updateEndpoints(_ list: [SharedEndpoint]) {
        var known: [ObjectIdentifier: PoolEndpoint] = [:]
        for ep in endpoints { known[ObjectIdentifier(ep.shared)] = ep }
        for ep in retired { known[ObjectIdentifier(ep.shared)] = ep }
        var next: [PoolEndpoint] = []
        next.reserveCapacity(list.count)
        for shared in list {
            if let ep = known.removeValue(forKey: ObjectIdentifier(shared)) {
                ep.retired = false
                next.append(ep)
            } else {
                next.append(PoolEndpoint(shared: shared, pool: self))
            }
        }
        retired = []
        for ep in known.values {
            ep.retired = true
            if !ep.connections.isEmpty { retired.append(ep) }
            for c in ep.connections { closeIfIdle(c) }
        }
        endpoints = next
        cursor = endpoints.isEmpty ? 0 : cursor % endpoints.count
        healthChecker?.sync(endpoints)
        drainPending()
    }
}
