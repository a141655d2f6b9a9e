extension RouteLimits {
    static let rateLimitKeys = ["key", "rate", "burst", "max_keys"]
    static let concurrencyKeys = ["max_calls", "max_calls_per_client", "client_key", "max_keys"]
    /// Far above any real need, low enough that a typo cannot ask for a giant table.
    static let maxKeysCap = 10_000_000

    /// `listener/route name`, with `#2`, `#3` for later routes of the same name: stable when a reload adds or
    /// removes other routes, so their buckets are kept.
    static func id(listener: String, route: String, among earlier: [RouteConfig]) -> String {
        let same = earlier.count { $0.name == route }
        return same == 0 ? "\(listener)/\(route)" : "\(listener)/\(route)#\(same + 1)"
    }

    /// The `rate_limits` and `concurrency_limit` keys of a route (`mapping`); nil when it has neither.
    static func decode(_ mapping: ConfigMapping) throws(ConfigError) -> RouteLimits? {
        var limits = RouteLimits(id: mapping.path)
        if let value = mapping.optional("rate_limits") {
            for item in try value.sequence() { limits.rateLimits.append(try RateLimitRule(decoding: item)) }
        }
        if let value = mapping.optional("concurrency_limit") { limits.concurrency = try ConcurrencyLimitConfig(decoding: value) }
        return limits.rateLimits.isEmpty && limits.concurrency == nil ? nil : limits
    }
}

extension RateLimitRule {
    init(decoding node: ConfigNode) throws(ConfigError) {
        let mapping = try node.mapping(knownKeys: RouteLimits.rateLimitKeys)
        let rate = try LimitRate(decoding: try mapping.required("rate"))
        let key = try mapping.optional("key").map { node throws(ConfigError) in try LimitKey(decoding: node) } ?? .route
        self.init(key: key, rate: rate)
        if let value = mapping.optional("burst") { burst = try value.integer(in: 1...1_000_000_000) }
        if let value = mapping.optional("max_keys") { maxKeys = try value.integer(in: 1...RouteLimits.maxKeysCap) }
    }
}

extension ConcurrencyLimitConfig {
    init(decoding node: ConfigNode) throws(ConfigError) {
        let mapping = try node.mapping(knownKeys: RouteLimits.concurrencyKeys)
        self.init()
        if let value = mapping.optional("max_calls") { maxCalls = try value.integer(in: 1...1_000_000_000) }
        if let value = mapping.optional("max_calls_per_client") { maxCallsPerClient = try value.integer(in: 1...1_000_000_000) }
        if let value = mapping.optional("client_key") {
            clientKey = try LimitKey(decoding: value)
            if clientKey == .route { throw value.error("client_key cannot be \"route\" (use max_calls for a route-wide cap)") }
        }
        if let value = mapping.optional("max_keys") { maxKeys = try value.integer(in: 1...RouteLimits.maxKeysCap) }
        if maxCalls == nil && maxCallsPerClient == nil {
            throw node.error("concurrency_limit needs max_calls or max_calls_per_client")
        }
    }
}

extension LimitKey {
    static let words = ["route", "client_address"]

    /// `route`, `client_address`, `{header: x-api-key}` or `{claim: sub}`.
    init(decoding node: ConfigNode) throws(ConfigError) {
        if case .scalar = node.node.kind {
            let word = try node.choice(LimitKey.words, what: "key (or {header: name} / {claim: name})")
            self = word == "route" ? .route : .clientAddress
            return
        }
        let mapping = try node.mapping(knownKeys: ["header", "claim"])
        guard mapping.entries.count == 1, let entry = mapping.entries.first else {
            throw node.error("a key mapping takes exactly one of \"header\" or \"claim\"")
        }
        let valueNode = try mapping.required(entry.key)
        let value = try valueNode.nonEmptyString()
        if entry.key == "header" {
            guard HeaderSyntax.isToken(value) else { throw valueNode.error("invalid header name \"\(value)\"") }
            self = .header(value.lowercased())
        } else {
            self = .claim(value)
        }
    }
}

extension LimitRate {
    /// `100/s`, `10/m`, `5/h`, or a count per duration: `20/30s`.
    init(decoding node: ConfigNode) throws(ConfigError) {
        let text = try node.scalarText(expected: "a rate such as 100/s")
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        let syntax = "invalid rate \"\(text)\" (expected a count per unit: 100/s, 10/m, 5/h or 20/30s)"
        guard parts.count == 2, let count = try? IntegerSyntax.parse(String(parts[0])) else { throw node.error(syntax) }
        guard count >= 1 && count <= 1_000_000_000 else { throw node.error("the count of rate \"\(text)\" must be between 1 and 1000000000") }
        let period: Duration
        switch parts[1] {
        case "s": period = .seconds(1)
        case "m": period = .seconds(60)
        case "h": period = .seconds(3600)
        default:
            guard let parsed = try? DurationSyntax.parse(String(parts[1])) else { throw node.error(syntax) }
            period = parsed
        }
        guard period >= .milliseconds(1), period <= .seconds(86_400) else {
            throw node.error("the period of rate \"\(text)\" must be between 1ms and 24h")
        }
        self.init(count: count, period: period, text: text)
    }
}
