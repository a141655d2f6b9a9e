/// What a rate or concurrency limit counts separately: one bucket per distinct value.
public enum LimitKey: Sendable, Equatable, CustomStringConvertible {
    /// One bucket for the whole route.
    case route
    /// The client's address (the socket peer; the forwarded client when `forwarded_headers.trusted_proxies`
    /// vouches for the peer).
    case clientAddress
    /// A request header or gRPC metadata value (name lower-case). Calls without it share one bucket.
    case header(String)
    /// A claim of the verified JWT (set by the route's `jwt`). Calls without it share one bucket.
    case claim(String)

    public var description: String {
        switch self {
        case .route: return "route"
        case .clientAddress: return "client_address"
        case .header(let name): return "header \(name)"
        case .claim(let name): return "claim \(name)"
        }
    }
}

/// `rate: 100/s`: `count` tokens every `period`, refilled continuously (one token each `period / count`).
public struct LimitRate: Sendable, Equatable, CustomStringConvertible {
    public var count: Int
    public var period: Duration
    /// As written in the config (`100/s`), for messages.
    public var text: String

    public init(count: Int, period: Duration, text: String) {
        self.count = count
        self.period = period
        self.text = text
    }

    public var description: String { text }
}

/// One token bucket rule of a route (`rate_limits:` list item).
public struct RateLimitRule: Sendable, Equatable {
    public var key: LimitKey
    public var rate: LimitRate
    /// Bucket capacity: calls allowed at once after an idle period. Defaults to `rate.count`.
    public var burst: Int
    /// Most distinct keys tracked at once (the whole process); see `RateLimiter` for what happens when full.
    public var maxKeys: Int

    public static let defaultMaxKeys = 10_000

    public init(key: LimitKey, rate: LimitRate, burst: Int? = nil, maxKeys: Int = RateLimitRule.defaultMaxKeys) {
        self.key = key
        self.rate = rate
        self.burst = burst ?? rate.count
        self.maxKeys = maxKeys
    }
}

/// `concurrency_limit:` of a route: calls in flight at once, for the route and per client key.
public struct ConcurrencyLimitConfig: Sendable, Equatable {
    /// nil = no route-wide cap.
    public var maxCalls: Int?
    /// nil = no per-client cap.
    public var maxCallsPerClient: Int?
    /// What identifies a client for `max_calls_per_client` (default: the client address).
    public var clientKey: LimitKey
    /// Most distinct clients with calls in flight tracked at once.
    public var maxKeys: Int

    public init(maxCalls: Int? = nil, maxCallsPerClient: Int? = nil, clientKey: LimitKey = .clientAddress,
                maxKeys: Int = RateLimitRule.defaultMaxKeys) {
        self.maxCalls = maxCalls
        self.maxCallsPerClient = maxCallsPerClient
        self.clientKey = clientKey
        self.maxKeys = maxKeys
    }
}

/// The limits of one route. `id` names the route in the process (`web/orders`, `web/orders#2` for a second route
/// of that name): unique, and the same across reloads, so counters of an unchanged route survive a reload.
public struct RouteLimits: Sendable, Equatable {
    public var id: String
    public var rateLimits: [RateLimitRule]
    public var concurrency: ConcurrencyLimitConfig?

    public init(id: String, rateLimits: [RateLimitRule] = [], concurrency: ConcurrencyLimitConfig? = nil) {
        self.id = id
        self.rateLimits = rateLimits
        self.concurrency = concurrency
    }
}
