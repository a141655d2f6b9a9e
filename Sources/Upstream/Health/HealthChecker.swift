import Config
import EventLoop

/// Active health checking of one cluster, run by one worker's pool for the whole process: every endpoint gets a
/// `grpc.health.v1.Health/Check` every `interval`, and the verdict is published in its `SharedEndpoint`, which
/// every worker reads. One checker instead of one per worker keeps the probe rate independent of the worker
/// count, and the verdicts identical on all workers.
///
/// Thresholds: `unhealthy_threshold` consecutive failures (no answer, transport error, non-OK status) take a
/// healthy endpoint out; an explicit NOT_SERVING answer takes it out at once (the server said so; waiting
/// would only send it more calls it will refuse). `healthy_threshold` consecutive SERVING answers bring it back.
final class HealthChecker {
    private final class Target {
        let endpoint: PoolEndpoint
        var timer: TimerHandle?
        var probe: HealthProbe?
        var successes = 0
        var failures = 0
        var stopped = false
        init(endpoint: PoolEndpoint) { self.endpoint = endpoint }
    }

    /// The pool owns its checker (see PoolEndpoint.pool on why not weak).
    private unowned(unsafe) var pool: ClusterPool?
    private let loop: EventLoop
    private let config: HealthCheckConfig
    private var targets: [ObjectIdentifier: Target] = [:]

    init(pool: ClusterPool, config: HealthCheckConfig) {
        self.pool = pool
        self.loop = pool.loop
        self.config = config
    }

    /// Follows the pool's endpoint list: new endpoints are checked at once, removed ones no longer.
    func sync(_ endpoints: [PoolEndpoint]) {
        var keep: Set<ObjectIdentifier> = []
        for ep in endpoints {
            let id = ObjectIdentifier(ep)
            keep.insert(id)
            if targets[id] == nil {
                let t = Target(endpoint: ep)
                targets[id] = t
                check(t)
            }
        }
        for (id, t) in targets where !keep.contains(id) {
            t.stopped = true
            loop.cancelTimer(t.timer)
            t.probe?.cancel()
            targets[id] = nil
        }
    }

    private func check(_ t: Target) {
        guard !t.stopped, let pool else { return }
        t.timer = loop.scheduleTimer(after: config.interval) { [weak self, weak t] in
            guard let self, let t else { return }
            self.check(t)
        }
        // A check slower than the interval (timeout > interval) is not doubled up.
        guard t.probe == nil else { return }
        let probe = HealthProbe(loop: loop, timeout: config.timeout) { [weak self, weak t] verdict in
            guard let self, let t else { return }
            t.probe = nil
            self.record(verdict, for: t)
        }
        if probe.start(pool: pool, endpoint: t.endpoint, service: config.service) && !probe.isDone {
            t.probe = probe
        }
    }

    private func record(_ verdict: HealthProbe.Verdict, for t: Target) {
        guard !t.stopped else { return }
        let shared = t.endpoint.shared
        let cluster = pool?.name ?? "?"
        switch verdict {
        case .serving:
            t.failures = 0
            t.successes += 1
            if !shared.isHealthy && t.successes >= config.healthyThreshold {
                shared.setHealthy(true)
                Log.info("health", "cluster \(cluster): \(shared) is healthy again (\(t.successes) passed check(s))")
                pool?.healthBecameGood()
            }
        case .notServing(let why):
            t.successes = 0
            t.failures += 1
            if shared.setHealthy(false) {
                Log.warn("health", "cluster \(cluster): \(shared) is unhealthy: health check answered \(why)")
            }
        case .failed(let why):
            t.successes = 0
            t.failures += 1
            if shared.isHealthy && t.failures >= config.unhealthyThreshold {
                shared.setHealthy(false)
                Log.warn("health", "cluster \(cluster): \(shared) is unhealthy after \(t.failures) failed check(s): \(why)")
            } else {
                Log.debug("health", "cluster \(cluster): check of \(shared) failed: \(why)")
            }
        }
    }
}
