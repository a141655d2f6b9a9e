import Config
import EventLoop
import GRPCWebCodec

/// Rate limits (token buckets) and concurrency limits per route. Buckets and counts are shared by the workers
/// (`RouteLimiter`), so the configured numbers hold for the process whatever the worker count.
///
/// Over a rate limit: RESOURCE_EXHAUSTED with `retry-after` (whole seconds, rounded up, as in HTTP) and
/// `grpc-retry-pushback-ms` (milliseconds; what gRPC clients with a retry policy obey) in the status metadata.
/// Over a concurrency limit: RESOURCE_EXHAUSTED without a delay (when a slot frees is unknown).
final class RateLimitStage: EdgeStage {
    /// By route id (`web/orders`): the process-wide limiter of every route with limits.
    private let limiters: [String: RouteLimiter]

    init(config: ProxyConfig) {
        var limiters: [String: RouteLimiter] = [:]
        for listener in config.listeners {
            for route in listener.routes {
                if let limits = route.limits { limiters[limits.id] = RouteLimiter.shared(for: limits) }
            }
        }
        self.limiters = limiters
    }

    static func isNeeded(_ config: ProxyConfig) -> Bool {
        config.listeners.contains { $0.routes.contains { $0.limits != nil } }
    }

    func evaluate(_ request: EdgeCallRequest, grant: inout EdgeCallGrant) -> EdgeRejection? {
        guard let limits = request.route.limits, let limiter = limiters[limits.id] else { return nil }
        return evaluate(request, limiter: limiter, grant: &grant, now: Int64(MonotonicClock.nowNanos()))
    }

    /// Concurrency first, so a call refused for concurrency spends no token; a slot taken is given back when a
    /// rate limit then refuses.
    func evaluate(_ request: EdgeCallRequest, limiter: RouteLimiter, grant: inout EdgeCallGrant, now: Int64) -> EdgeRejection? {
        var slot: ConcurrencyCounter.ClientSlot?
        if let counter = limiter.concurrency, let config = limiter.config.concurrency {
            let client = counter.maxPerClient == nil ? nil : RateLimitStage.keyValue(config.clientKey, request, grant)
            switch counter.acquire(client: client) {
            case .success(let taken): slot = taken
            case .failure(let refusal): return RateLimitStage.concurrencyRejection(refusal.which, config, route: request.route.name)
            }
        }
        for (rule, table) in zip(limiter.config.rateLimits, limiter.tables) {
            let key = RateLimitStage.keyValue(rule.key, request, grant)
            if case .refused(let retryNanos, let overflow) = table.take(key, now: now) {
                if let slot, let counter = limiter.concurrency { counter.release(slot) }
                return RateLimitStage.rateRejection(rule, retryNanos: retryNanos, overflow: overflow, route: request.route.name)
            }
        }
        if let slot, let counter = limiter.concurrency {
            grant.onFinish { counter.release(slot) }
        }
        return nil
    }

    /// The bucket a call counts against. Calls without the header or claim share the bucket of the empty key.
    static func keyValue(_ key: LimitKey, _ request: EdgeCallRequest, _ grant: EdgeCallGrant) -> String {
        switch key {
        case .route: return ""
        case .clientAddress: return ForwardedFor.clientHost(request)
        case .header(let name): return request.metadata(name) ?? ""
        case .claim(let name): return grant.claims[name] ?? ""
        }
    }

    static func rateRejection(_ rule: RateLimitRule, retryNanos: Int64, overflow: Bool, route: String) -> EdgeRejection {
        let per = rule.key == .route ? "" : " per \(rule.key)"
        let seconds = max(1, (retryNanos + 999_999_999) / 1_000_000_000)
        let millis = max(1, (retryNanos + 999_999) / 1_000_000)
        return EdgeRejection(
            code: .resourceExhausted,
            message: "rate limit exceeded: \(rule.rate)\(per) (burst \(rule.burst)) on route \"\(route)\"; retry in \(millis) ms",
            metadata: [("retry-after", String(seconds)), ("grpc-retry-pushback-ms", String(millis))],
            stage: "rate_limit", reason: overflow ? "overflow" : "tokens")
    }

    static func concurrencyRejection(_ which: ConcurrencyCounter.Refusal, _ config: ConcurrencyLimitConfig, route: String) -> EdgeRejection {
        let message = which == .route
            ? "concurrency limit exceeded: \(config.maxCalls ?? 0) calls in flight on route \"\(route)\""
            : "concurrency limit exceeded: \(config.maxCallsPerClient ?? 0) calls in flight per \(config.clientKey) on route \"\(route)\""
        return EdgeRejection(code: .resourceExhausted, message: message, stage: "concurrency",
                             reason: which == .route ? "route" : "client")
    }
}
