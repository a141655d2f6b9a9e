import Config
import EventLoop

/// The shared state of one route's limits: a bucket table per `rate_limits` rule and the in-flight counts.
/// One per route for the whole process (every worker's `RateLimitStage` holds the same object); a reload that
/// leaves a route's limits unchanged keeps its buckets and counts.
final class RouteLimiter: Sendable {
    let config: RouteLimits
    let tables: [RateLimitTable]
    let concurrency: ConcurrencyCounter?

    init(config: RouteLimits) {
        self.config = config
        tables = config.rateLimits.map { rule in
            RateLimitTable(rule: TokenBucketRule(interval: rule.rate.period.nanoseconds / Int64(rule.rate.count), capacity: rule.burst),
                           maxKeys: rule.maxKeys)
        }
        concurrency = config.concurrency.map {
            ConcurrencyCounter(maxCalls: $0.maxCalls, maxPerClient: $0.maxCallsPerClient, maxKeys: $0.maxKeys)
        }
    }

    /// The process's limiter for `limits` (by route position): the existing one while its config is unchanged,
    /// else a new one. Called when a worker builds its edge policy (start, reload), never per call.
    static func shared(for limits: RouteLimits) -> RouteLimiter {
        registry.withLock { entries in
            // Limiters no worker holds any more (routes removed or changed by a reload) are forgotten.
            entries = entries.filter { $0.value.limiter != nil }
            if let existing = entries[limits.id]?.limiter, existing.config == limits { return existing }
            let limiter = RouteLimiter(config: limits)
            entries[limits.id] = WeakLimiter(limiter: limiter)
            return limiter
        }
    }

    private struct WeakLimiter: @unchecked Sendable {  // safe: RouteLimiter is Sendable; the weak box is only used under the registry's lock
        weak var limiter: RouteLimiter?
    }
    private static let registry = Locked<[String: WeakLimiter]>([:])
}
