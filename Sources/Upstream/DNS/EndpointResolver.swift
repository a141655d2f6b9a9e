public import Config
import EventLoop
import Glibc
import Transport

/// Resolves every cluster's endpoints, once at startup (blocking) and then again every `dns_refresh` on a
/// dedicated thread, so DNS never blocks a worker. A cluster's endpoint list is the union of what each of its
/// configured `host:port` entries resolves to, in config order; a name that resolves to several addresses (a
/// Kubernetes headless Service) contributes all of them. When a list changes, the handler receives the new one,
/// and the server hands it to every worker's loop.
///
/// One `SharedEndpoint` object exists per address for as long as DNS keeps returning it, so health verdicts
/// survive refreshes. A name that fails to resolve keeps its last good addresses (a DNS hiccup must not empty
/// a cluster) and is retried sooner.
public final class EndpointResolver: Sendable {
    public typealias UpdateHandler = @Sendable (_ cluster: String, _ endpoints: [SharedEndpoint]) -> Void

    /// Retry delay for a name that failed to resolve, when shorter than `dns_refresh`.
    static let failedRetry: Duration = .seconds(5)

    private struct ClusterState: Sendable {
        let name: String
        let specs: [SocketAddressSpec]
        let refresh: Duration
        /// Last good answer per spec.
        var answers: [[SocketAddress]]
        var current: [SharedEndpoint] = []
        /// Some spec is a name, not an IP literal: worth re-resolving.
        var hasNames: Bool
    }

    private let clusters: Locked<[ClusterState]>
    private let thread = Locked<EventLoopThread?>(nil)
    private let hosts: HostsOverride?

    /// - Parameter seed: endpoints to start from, by cluster (a config reload passes the running ones of the
    ///   clusters it keeps, so an address that resolves the same keeps its `SharedEndpoint` and health state).
    public init(clusters: [ClusterConfig], seed: [String: [SharedEndpoint]] = [:]) {
        let hosts = HostsOverride.fromEnvironment()
        self.hosts = hosts
        self.clusters = Locked(clusters.map { c in
            ClusterState(name: c.name, specs: c.endpoints, refresh: c.dnsRefresh,
                         answers: Array(repeating: [], count: c.endpoints.count), current: seed[c.name] ?? [],
                         hasNames: c.endpoints.contains { !EndpointResolver.isIPLiteral($0.host) })
        })
        if let hosts { Log.warn("dns", "\(HostsOverride.environmentVariable)=\(hosts.path): test-only host overrides are active") }
    }

    /// Resolves every cluster now. Blocking: for startup, before the workers exist.
    public func resolveAll() -> [String: [SharedEndpoint]] {
        var out: [String: [SharedEndpoint]] = [:]
        let count = clusters.withLock { $0.count }
        for i in 0..<count {
            _ = refresh(i)
            out[clusters.withLock { $0[i].name }] = clusters.withLock { $0[i].current }
        }
        return out
    }

    /// The endpoints each cluster has now.
    public func currentEndpoints() -> [String: [SharedEndpoint]] {
        clusters.withLock { all in Dictionary(all.map { ($0.name, $0.current) }, uniquingKeysWith: { a, _ in a }) }
    }

    /// Starts the refresh thread (only when some cluster names a host). `onUpdate` runs on that thread.
    public func start(onUpdate: @escaping UpdateHandler) {
        let plan = clusters.withLock { $0.enumerated().filter { $0.element.hasNames }.map { ($0.offset, $0.element.refresh) } }
        guard !plan.isEmpty else { return }
        let t = EventLoopThread(name: "dns") { [self] loop in
            for (i, every) in plan { self.schedule(i, after: every, on: loop, onUpdate) }
        }
        thread.withLock { $0 = t }
    }

    public func stop() {
        guard let t = thread.withLock({ t -> EventLoopThread? in
            let old = t
            t = nil
            return old
        }) else { return }
        t.loop.stop()
        t.join()
    }

    private func schedule(_ i: Int, after delay: Duration, on loop: EventLoop, _ onUpdate: @escaping UpdateHandler) {
        _ = loop.scheduleTimer(after: delay) { [self] in
            let (changed, failed) = self.refresh(i)
            let (name, list, every) = self.clusters.withLock { ($0[i].name, $0[i].current, $0[i].refresh) }
            if changed { onUpdate(name, list) }
            self.schedule(i, after: failed ? min(every, EndpointResolver.failedRetry) : every, on: loop, onUpdate)
        }
    }

    /// Re-resolves cluster `i`. Returns whether its endpoint list changed and whether some name failed.
    private func refresh(_ i: Int) -> (changed: Bool, failed: Bool) {
        let (name, specs, previousAnswers) = clusters.withLock { ($0[i].name, $0[i].specs, $0[i].answers) }
        var answers = previousAnswers
        var failed = false
        for (k, spec) in specs.enumerated() {
            let fresh = resolve(spec)
            if fresh.isEmpty {
                failed = true
                Log.warn("dns", "cluster \(name): cannot resolve \(spec)" + (answers[k].isEmpty ? "" : "; keeping its last \(answers[k].count) address(es)"))
            } else {
                answers[k] = fresh
            }
        }
        return clusters.withLock { all -> (Bool, Bool) in
            var state = all[i]
            state.answers = answers
            var byKey: [String: SharedEndpoint] = [:]
            for e in state.current { byKey[e.key] = e }
            var next: [SharedEndpoint] = []
            var seen: Set<String> = []
            for (k, list) in answers.enumerated() {
                for address in list {
                    let key = address.description
                    guard seen.insert(key).inserted else { continue }
                    next.append(byKey[key] ?? SharedEndpoint(address: address, host: state.specs[k].host))
                }
            }
            let changed = next.map(\.key) != state.current.map(\.key)
            if changed {
                Log.info("dns", "cluster \(name): endpoints \(next.map(\.key).joined(separator: ", "))"
                    + (state.current.isEmpty ? "" : " (were \(state.current.map(\.key).joined(separator: ", ")))"))
            }
            state.current = next
            all[i] = state
            return (changed, failed)
        }
    }

    private func resolve(_ spec: SocketAddressSpec) -> [SocketAddress] {
        if let hosts, let literals = hosts.addresses(for: spec.host) {
            return literals.flatMap { SocketAddress.resolve(host: $0, port: spec.port) }
        }
        return SocketAddress.resolve(host: spec.host, port: spec.port)
    }

    static func isIPLiteral(_ host: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        let bare = host.split(separator: "%", maxSplits: 1).first.map(String.init) ?? host
        return inet_pton(AF_INET, bare, &v4) == 1 || inet_pton(AF_INET6, bare, &v6) == 1
    }
}
