public import Config
import CProxyLinux
import EventLoop
import Glibc
public import Proxy
import Synchronization
import TLS
import Transport
import Upstream

/// The process: one worker thread (event loop) per configured worker, each with its own SO_REUSEPORT listening
/// socket per listener and its own upstream pools; the admin endpoint on a loop thread of its own (so it neither
/// slows proxy traffic nor waits behind it); signals on the main thread.
public final class ProxyServer: Sendable {
    public let config: ProxyConfig
    public let stats = ProxyStats()
    /// Resolves cluster endpoints at start and re-resolves host names on its own thread afterwards; replaced by
    /// a reload.
    private let resolver: Locked<EndpointResolver>
    /// The running config (`config` is the one the process started with); replaced by a reload.
    private let running: Locked<ProxyConfig>
    /// Reads and decodes the config file again (SIGHUP, POST /reload); nil when there is no file to re-read.
    private let loadConfig: (@Sendable () throws(ConfigError) -> ProxyConfig)?
    /// Reloads run one at a time (SIGHUP on the main thread, POST /reload on the admin thread); the value counts
    /// attempts. Not `Locked<Void>`: a zero-sized value shares its address with the lock's other field, and TSan
    /// then reports the exclusivity check on it as a race with the lock's own read of that field.
    private let reloading = Locked<Int>(0)
    private let draining = Atomic<Bool>(false)
    private let workers: Locked<[EventLoopThread]> = Locked([])
    private let adminThread: Locked<EventLoopThread?> = Locked(nil)
    let adminStats = AdminStats()
    /// Addresses each listener actually bound (port 0 resolved), logged at start and reused by later workers.
    private let boundAddresses: Locked<[String: String]> = Locked([:])
    /// Fetches JWT providers' `jwks_uri`s; replaced by a reload.
    private let jwksFetcher = Locked<JWKSFetcher?>(nil)
    /// Opened by `start` when the config has `access_log`.
    private let accessLog = Locked<AccessLog?>(nil)

    public var isDraining: Bool { draining.load(ordering: .relaxed) }

    /// The TLS contexts in use; replaced by `reloadTLS`.
    private let tls: Locked<TLSMaterial>

    public init(config: ProxyConfig, tls: TLSMaterial = TLSMaterial(),
                loadConfig: (@Sendable () throws(ConfigError) -> ProxyConfig)? = nil) {
        self.config = config
        self.resolver = Locked(EndpointResolver(clusters: config.clusters))
        self.running = Locked(config)
        self.tls = Locked(tls)
        self.loadConfig = loadConfig
        stats.setConfigHash(ConfigReload.hash(config))
    }

    /// The config in force now.
    public var currentConfig: ProxyConfig { running.withLock { $0 } }

    /// SIGHUP and POST /reload: reads the config file again (and every TLS file it names), checks it, and if it
    /// is valid switches every worker to it between two events (see `WorkerContext.applyReload`). If not, nothing
    /// changes and the located error is logged, counted and returned.
    @discardableResult
    public func reload() -> Result<String, ConfigError> {
        reloading.withLock { attempts in
            attempts += 1
            let outcome = reloadLocked()
            switch outcome {
            case .success(let summary):
                stats.reloadsTotal.add(1)
                Log.info("server", "config reloaded: \(summary)")
            case .failure(let error):
                stats.reloadFailuresTotal.add(1)
                Log.error("server", "config not reloaded, the running one stays in force: \(error)")
                Log.error("tls", "TLS files not reloaded, the previous ones stay in use")
            }
            return outcome
        }
    }

    private func reloadLocked() -> Result<String, ConfigError> {
        let old = currentConfig
        let new: ProxyConfig
        let material: TLSMaterial
        do throws(ConfigError) {
            guard let loadConfig else {
                throw ConfigError(file: "", line: 0, column: 0, path: "", message: "this process has no config file to re-read")
            }
            new = try loadConfig()
            material = try TLSMaterial.load(new)
            try ConfigReload.checkReloadable(from: old, to: new)
        } catch {
            return .failure(error)
        }
        let changed = ConfigReload.changedClusters(from: old, to: new)
        // Unchanged clusters keep their endpoints (and so their health state); DNS answers come from a new
        // resolver that starts from them.
        let kept = resolver.withLock { $0.currentEndpoints() }.filter { !changed.contains($0.key) }
        let newResolver = EndpointResolver(clusters: new.clusters, seed: kept)
        let endpoints = newResolver.resolveAll()
        let listeners = Dictionary(uniqueKeysWithValues: new.listeners.map { ($0.name, ListenerContext(config: $0)) })
        let listenerChange = ConfigReload.ListenerChange(from: old, to: new)
        let workerLoops = workers.withLock { $0.map(\.loop) }
        // New (or moved) listeners are bound on worker 0 first, alone: an address that cannot be bound refuses
        // the reload before anything has changed.
        let opened: [(ListenerContext, SocketAddress, TCPListener)]
        switch openListeners(listenerChange.added.compactMap { listeners[$0.name] }, workerLoops, config: new) {
        case .success(let sockets): opened = sockets
        case .failure(let error): return .failure(error)
        }
        running.withLock { $0 = new }
        tls.withLock { $0 = material }
        for (i, loop) in workerLoops.enumerated() {
            let firstSockets = UnsafeTransfer(opened.map { ($0.0.config.name, $0.2) })
            let others = opened.map { ($0.0, boundAddress($0.0, requested: $0.1)) }
            loop.execute { [self] in
                guard let ctx = WorkerRegistry.context(on: loop) else { return }
                ctx.applyReload(
                    config: new, listeners: listeners, tlsListeners: material.listeners, tlsClusters: material.clusters,
                    endpoints: endpoints, changedClusters: changed)
                // Removed and moved listeners stop accepting and their connections drain (finish what is in
                // flight, then close); clients reconnect to the new address.
                WorkerRegistry.closeListeners(named: listenerChange.removed, on: loop)
                ctx.drainConnections(ofListeners: listenerChange.removed)
                var sockets = i == 0 ? firstSockets.value : []
                if i > 0 {
                    for (lc, addr) in others {
                        do {
                            sockets.append((lc.config.name, try makeListener(lc, address: addr, worker: i, ctx: ctx, loop: loop)))
                        } catch {
                            Log.error("server", "worker \(i): listener \(lc.config.name) not opened: \(error)")
                        }
                    }
                }
                WorkerRegistry.addListeners(sockets, on: loop)
            }
        }
        let gone = listenerChange.removed.subtracting(listenerChange.added.map(\.name))
        boundAddresses.withLock { for name in gone { $0[name] = nil } }
        for (lc, _, socket) in opened { Log.info("server", "\(lc.config.name) listening on \(socket.localAddress)") }
        let oldResolver = resolver.withLock { r -> EndpointResolver in
            let previous = r
            r = newResolver
            return previous
        }
        oldResolver.stop()
        startResolver(newResolver)
        startJWKSFetcher(new)
        stats.setConfigHash(ConfigReload.hash(new))
        Log.info("tls", "TLS files reloaded (\(material.listeners.count) listener(s), \(material.clusters.count) cluster(s))")
        let removed = Set(old.clusters.map(\.name)).subtracting(new.clusters.map(\.name))
        return .success("\(new.listeners.count) listener(s), \(new.clusters.count) cluster(s); new or changed clusters: "
                        + (changed.isEmpty ? "none" : changed.sorted().joined(separator: ", "))
                        + (removed.isEmpty ? "" : "; removed: " + removed.sorted().joined(separator: ", "))
                        + listenerChange.summary)
    }

    /// Binds a reload's new listeners on worker 0's loop (waiting for it), or closes what it bound and says why.
    private func openListeners(_ added: [ListenerContext], _ loops: [EventLoop], config: ProxyConfig)
        -> Result<[(ListenerContext, SocketAddress, TCPListener)], ConfigError> {
        guard !added.isEmpty, let first = loops.first else { return .success([]) }
        var resolved: [(ListenerContext, SocketAddress)] = []
        for lc in added {
            guard let addr = SocketAddress.resolve(host: lc.config.address.host, port: lc.config.address.port, passive: true).first else {
                return .failure(ConfigReload.listenerError(lc.config, in: config, "cannot resolve \(lc.config.address)"))
            }
            resolved.append((lc, addr))
        }
        let outcome = Locked<Result<[UnsafeTransfer<TCPListener>], ConfigError>?>(nil)
        first.execute { [self, resolved] in
            guard let ctx = WorkerRegistry.context(on: first) else {
                outcome.withLock { $0 = .failure(ConfigReload.listenerError(added[0].config, in: config, "worker 0 is not running")) }
                return
            }
            var sockets: [UnsafeTransfer<TCPListener>] = []
            for (lc, addr) in resolved {
                do {
                    sockets.append(UnsafeTransfer(try makeListener(lc, address: addr, worker: 0, ctx: ctx, loop: first)))
                } catch {
                    for s in sockets { s.value.close() }
                    outcome.withLock { $0 = .failure(ConfigReload.listenerError(lc.config, in: config, "cannot listen on \(lc.config.address): \(error)")) }
                    return
                }
            }
            outcome.withLock { $0 = .success(sockets) }
        }
        while true {
            if let result = outcome.withLock({ $0 }) {
                return result.map { sockets in zip(resolved, sockets).map { ($0.0, $0.1, $1.value) } }
            }
            usleep(500)
        }
    }

    /// Replaces the JWKS fetcher with one for `config`'s providers. Its key sets go to every worker's loop, where
    /// the JWT stage swaps its reference without locks.
    private func startJWKSFetcher(_ config: ProxyConfig) {
        let fetcher = JWKSFetcher(providers: config.jwtProviders) { [self] provider, uri, keys in
            for w in self.workers.withLock({ $0 }) {
                let loop = w.loop
                loop.execute { WorkerRegistry.context(on: loop)?.replaceJWTKeys(keys, provider: provider, uri: uri) }
            }
        }
        let old = jwksFetcher.withLock { current -> JWKSFetcher? in
            let previous = current
            current = fetcher
            return previous
        }
        old?.stop()
    }

    private func startResolver(_ r: EndpointResolver) {
        // DNS answers go to every worker's loop; each pool swaps its endpoint list there, without locks.
        r.start { [self] cluster, endpoints in
            for w in self.workers.withLock({ $0 }) {
                let loop = w.loop
                loop.execute { WorkerRegistry.context(on: loop)?.updateEndpoints(cluster: cluster, endpoints) }
            }
        }
    }

    /// Resolves addresses, binds every listener on every worker and starts the loops. Throws if a listener
    /// cannot be bound (then nothing is left running).
    public func start() throws {
        OpenFileLimit.warnIfBelow(config: config)
        let unverified = config.clusters.filter { $0.tls?.verify == false }
        stats.upstreamTLSVerifyDisabled.add(unverified.count)
        for cluster in unverified {
            Log.warn("tls", "cluster \(cluster.name): tls.verify is false, so any server certificate is accepted (a man in the middle would not be noticed)")
        }
        // Listener addresses are resolved and test-bound up front so a bad address fails startup clearly.
        var listenerAddresses: [(ListenerContext, SocketAddress)] = []
        for l in config.listeners {
            guard let addr = SocketAddress.resolve(host: l.address.host, port: l.address.port, passive: true).first else {
                throw SocketError.resolve("listener \(l.name) address \(l.address)")
            }
            listenerAddresses.append((ListenerContext(config: l), addr))
        }
        let accessLog = try openAccessLog()
        let clusterEndpoints = resolver.withLock { $0 }.resolveAll()
        let adminAddress: SocketAddress? = try config.admin.map { a in
            guard let addr = SocketAddress.resolve(host: a.address.host, port: a.address.port, passive: true).first else {
                throw SocketError.resolve("admin address \(a.address)")
            }
            return addr
        }

        // Port 0 listeners: the first worker's socket picks the port, the others bind the same one.
        let clusters = clusterEndpoints
        var resolvedListeners = listenerAddresses
        let startErrors = Locked<[String]>([])
        let ready = Atomic<Int>(0)
        let workerCount = config.workers
        var startedWorkers = 0
        let stats = self.stats
        let config = self.config
        for i in 0..<workerCount {
            let listenersForWorker = resolvedListeners
            let loopThread = EventLoopThread(name: "worker-\(i)") { [self] loop in
                CProxyLinux_set_thread_name("worker-\(i)")
                let material = self.tls.withLock { $0 }
                let ctx = WorkerContext(id: i, loop: loop, config: config, stats: stats, resolvedClusters: clusters,
                                        tlsListeners: material.listeners, tlsClusters: material.clusters)
                if let accessLog { ctx.callObservers.append(accessLog.observer(worker: i)) }
                var listeners: [(name: String, socket: TCPListener)] = []
                for (lc, addr) in listenersForWorker {
                    do {
                        let l = try self.makeListener(lc, address: addr, worker: i, ctx: ctx, loop: loop)
                        listeners.append((lc.config.name, l))
                    } catch {
                        startErrors.withLock { $0.append("listener \(lc.config.name): \(error)") }
                    }
                }
                WorkerRegistry.install(ctx: ctx, listeners: listeners, on: loop)
                ready.add(1, ordering: .sequentiallyConsistent)
            }
            workers.withLock { $0.append(loopThread) }
            startedWorkers += 1
            if i == 0 {
                // Wait for worker 0 so port-0 listeners get their real port before the others bind.
                while ready.load(ordering: .sequentiallyConsistent) < 1 { usleep(1000) }
                // Its sockets probed the addresses (see PortSharing.firstOfGroup); after a failure the others must
                // not bind with SO_REUSEPORT, which could join the group of whoever holds the address.
                if !startErrors.withLock({ $0.isEmpty }) { break }
                resolvedListeners = resolvedListeners.map { lc, addr in (lc, boundAddress(lc, requested: addr)) }
            }
        }
        while ready.load(ordering: .sequentiallyConsistent) < startedWorkers { usleep(1000) }
        if let adminAddress, let adminConfig = config.admin, startErrors.withLock({ $0.isEmpty }) {
            if let problem = startAdmin(adminConfig, address: adminAddress) {
                startErrors.withLock { $0.append(problem) }
            }
        }
        let errors = startErrors.withLock { $0 }
        if !errors.isEmpty {
            stop()
            throw ServerStartError(message: errors.joined(separator: "; "))
        }
        startResolver(resolver.withLock { $0 })
        startJWKSFetcher(config)
        let bound = boundAddresses.withLock { $0 }
        for (name, addr) in bound.sorted(by: { $0.key < $1.key }) {
            Log.info("server", "\(name) listening on \(addr)")
        }
        Log.info("server", "started \(workerCount) worker(s)")
    }

    /// One worker's listening socket for one listener. Worker 0's is bound first and alone, so an address another
    /// process holds (a second instance started by mistake) fails instead of sharing the port; the other workers
    /// join its SO_REUSEPORT group. Worker 0 records the address it got (port 0 resolved).
    private func makeListener(_ lc: ListenerContext, address: SocketAddress, worker i: Int, ctx: WorkerContext,
                              loop: EventLoop) throws -> TCPListener {
        let stats = self.stats
        let maxConnections = config.limits.maxConnections
        let l = try TCPListener(loop: loop, address: address, sharing: i == 0 ? .firstOfGroup : .joinGroup) { fd, _ in
            if stats.downstreamConnectionsActive.load() >= maxConnections {
                stats.rejected(by: .maxConnections)
                Glibc.close(fd)
                return
            }
            ctx.accept(fd: fd, listener: lc)
        }
        if i == 0 { boundAddresses.withLock { $0[lc.config.name] = l.localAddress.description } }
        return l
    }

    /// The address the other workers bind for a listener worker 0 has bound: port 0 replaced by the real port.
    private func boundAddress(_ lc: ListenerContext, requested addr: SocketAddress) -> SocketAddress {
        let bound = boundAddresses.withLock { $0 }
        if addr.port == 0, let b = bound[lc.config.name], let port = Int(b.split(separator: ":").last ?? ""),
           let real = SocketAddress.resolve(host: lc.config.address.host, port: port, passive: true).first {
            return real
        }
        return addr
    }

    /// The workers' loops (for the metrics scrape's hand-over).
    var workerLoops: [EventLoop] { workers.withLock { $0.map(\.loop) } }

    /// Each listener's bound address (port 0 resolved) by listener name, and "admin".
    var listenerBoundAddresses: [String: String] { boundAddresses.withLock { $0 } }

    /// Graceful drain: listeners close, /ready answers 503, idle connections close, busy ones finish their call.
    public func drain() {
        draining.store(true, ordering: .relaxed)
        for w in workers.withLock({ $0 }) {
            w.loop.execute {
                WorkerRegistry.drain(on: w.loop)
            }
        }
    }

    /// Waits until every downstream connection has closed or `timeout` passes. Returns true if all closed.
    public func waitForDrain(timeout: Duration) -> Bool {
        let deadline = MonotonicClock.nowNanos() + UInt64(timeout.nanoseconds)
        while MonotonicClock.nowNanos() < deadline {
            if stats.downstreamConnectionsActive.load() == 0 { return true }
            usleep(20_000)
        }
        return stats.downstreamConnectionsActive.load() == 0
    }

    /// The admin endpoint on its own loop thread; returns once it listens, or why it could not.
    private func startAdmin(_ adminConfig: AdminConfig, address: SocketAddress) -> String? {
        let started = Atomic<Bool>(false)
        let problem = Locked<String?>(nil)
        let limits = config.limits
        let stats = adminStats
        let thread = EventLoopThread(name: "admin") { [self] loop in
            CProxyLinux_set_thread_name("admin")
            let endpoint = AdminEndpoint(loop: loop, config: adminConfig, limits: limits, stats: stats, server: self)
            do {
                try endpoint.listen(on: address)
                if let bound = endpoint.listener?.localAddress.description {
                    self.boundAddresses.withLock { $0["admin"] = bound }
                }
                WorkerRegistry.keep(endpoint, on: loop)
            } catch {
                problem.withLock { $0 = "admin listener: \(error)" }
            }
            started.store(true, ordering: .sequentiallyConsistent)
        }
        adminThread.withLock { $0 = thread }
        while !started.load(ordering: .sequentiallyConsistent) { usleep(1000) }
        return problem.withLock { $0 }
    }

    public func stop() {
        resolver.withLock { $0 }.stop()
        jwksFetcher.withLock { $0 }?.stop()
        var ws = workers.withLock { $0 }
        if let admin = adminThread.withLock({ $0 }) { ws.append(admin) }
        for w in ws { w.loop.stop() }
        for w in ws { w.join() }
        accessLog.withLock { $0 }?.stop()
    }

    private func openAccessLog() throws -> AccessLog? {
        guard let accessLogConfig = config.accessLog else { return nil }
        let log: AccessLog
        do {
            log = try AccessLog(config: accessLogConfig, workers: config.workers)
        } catch {
            throw ServerStartError(message: error.description)
        }
        log.start()
        accessLog.withLock { $0 = log }
        return log
    }

    /// SIGUSR1: the access log file is opened again by its path (after logrotate renamed it).
    public func reopenAccessLog() {
        accessLog.withLock { $0 }?.reopen()
    }

    /// The access log's counters for `/metrics` ("" when it is off).
    func accessLogMetricsText() -> String {
        accessLog.withLock { $0 }?.prometheusText() ?? ""
    }
}

public struct ServerStartError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// Per-loop objects that must stay alive for the loop's lifetime (listeners, worker context). Each loop only
/// touches its own entry, on its own thread.
enum WorkerRegistry {
    private final class Entry {
        var ctx: WorkerContext?
        var listeners: [(name: String, socket: TCPListener)] = []
        var keep: [AnyObject] = []
    }
    // Keyed by loop identity; written only during start on each loop's own thread.
    private static let entries = Locked<[ObjectIdentifier: UnsafeTransfer<Entry>]>([:])

    private static func entry(_ loop: EventLoop) -> Entry {
        entries.withLock { dict in
            if let e = dict[ObjectIdentifier(loop)] { return e.value }
            let e = Entry()
            dict[ObjectIdentifier(loop)] = UnsafeTransfer(e)
            return e
        }
    }

    static func install(ctx: WorkerContext, listeners: [(name: String, socket: TCPListener)], on loop: EventLoop) {
        let e = entry(loop)
        e.ctx = ctx
        e.listeners = listeners
    }

    /// A reload's new listening sockets on this loop.
    static func addListeners(_ listeners: [(name: String, socket: TCPListener)], on loop: EventLoop) {
        entry(loop).listeners += listeners
    }

    /// A reload removed (or moved) these listeners: their sockets close on this loop.
    static func closeListeners(named names: Set<String>, on loop: EventLoop) {
        let e = entry(loop)
        for l in e.listeners where names.contains(l.name) { l.socket.close() }
        e.listeners.removeAll { names.contains($0.name) }
    }

    /// The worker context of `loop`; call on that loop's thread only.
    static func context(on loop: EventLoop) -> WorkerContext? {
        entry(loop).ctx
    }

    static func keep(_ object: AnyObject, on loop: EventLoop) {
        entry(loop).keep.append(object)
    }

    static func drain(on loop: EventLoop) {
        let e = entry(loop)
        for l in e.listeners { l.socket.close() }
        e.listeners = []
        e.ctx?.startDrain()
    }
}

/// Moves a loop-confined object through a Sendable container. Safe here because every `Entry` is only
/// dereferenced on the thread of the loop it belongs to.
struct UnsafeTransfer<T>: @unchecked Sendable {  // safe: see the type comment (loop-thread-only access)
    let value: T
    init(_ value: T) { self.value = value }
}
