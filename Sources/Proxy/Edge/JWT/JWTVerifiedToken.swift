/// What a verified token gives a call, kept in the cache so a repeated token costs one dictionary lookup.
struct JWTVerifiedToken {
    /// Flattened claims (the grant's `claims`).
    let claims: [String: String]
    /// The forwarded-claim headers: `.set` for claims the token has, `.remove` for the others.
    let edits: [HeaderEdit]
    /// Wall-clock second after which the token is expired (its `exp` plus the clock skew); infinity without `exp`.
    let expiresAt: Double
}

/// A bounded per-worker cache of verified tokens keyed by the token text. Oldest-first eviction when full (a
/// ring of insertion order), expired entries dropped when met. Per worker, so no lock.
struct JWTTokenCache {
    let capacity: Int
    private var entries: [Substring: JWTVerifiedToken] = [:]
    private var order: [Substring] = []
    private var next = 0

    init(capacity: Int) { self.capacity = capacity }

    var count: Int { entries.count }

    /// A still-valid entry; an expired one is removed (the caller then re-verifies and reports the expiry).
    mutating func lookup(_ token: Substring, now: Double) -> JWTVerifiedToken? {
        guard capacity > 0, let entry = entries[token] else { return nil }
        if now >= entry.expiresAt {
            entries[token] = nil
            return nil
        }
        return entry
    }

    mutating func insert(_ token: Substring, _ entry: JWTVerifiedToken) {
        guard capacity > 0 else { return }
        // Own storage: a Substring key would otherwise keep the whole request header string alive.
        let key = Substring(String(token))
        if entries[key] != nil { entries[key] = entry; return }
        if order.count < capacity {
            order.append(key)
        } else {
            entries[order[next]] = nil
            order[next] = key
            next = (next + 1) % capacity
        }
        entries[key] = entry
    }
}
