import EventLoop

/// The buckets of one rate-limit rule, one per key, shared by every worker of the process: N workers allow
/// exactly the configured rate, not N times it. A mutex guards the map; it is held for one hash lookup and a
/// few additions, and only calls on routes with this rule take it.
///
/// At most `maxKeys` keys. When a new key finds the table full, buckets that are full again (idle long enough:
/// forgetting them changes nothing, a new bucket starts full) are evicted; if none is, the new key shares one
/// overflow bucket with the same rate and burst until room frees up. So a flood of distinct keys costs bounded
/// memory and gets one bucket's worth of calls through, while keys already tracked keep their own buckets.
final class RateLimitTable: Sendable {
    let rule: TokenBucketRule
    let maxKeys: Int

    private struct State {
        var fullAt: [String: Int64] = [:]
        var overflowFullAt: Int64 = 0
        /// No bucket can be full again before this: a sweep earlier would find nothing to evict.
        var nextSweep: Int64 = 0
    }
    private let state = Locked(State())

    /// Keys longer than this are stored as a hash (a header value can be kilobytes; the table holds many).
    static let maxStoredKeyBytes = 128

    /// The key as stored: itself, or `#` and its hash (seeded per process, so not chosen by a client) when long.
    static func storedKey(_ key: String) -> String {
        key.utf8.count > maxStoredKeyBytes ? "#\(key.hashValue)" : key
    }

    init(rule: TokenBucketRule, maxKeys: Int) {
        self.rule = rule
        self.maxKeys = maxKeys
    }

    enum Outcome: Equatable {
        case allowed
        /// Refused: nanoseconds until a token is available; `overflow` when the key shared the overflow bucket.
        case refused(retryAfterNanos: Int64, overflow: Bool)
    }

    func take(_ key: String, now: Int64) -> Outcome {
        let storedKey = RateLimitTable.storedKey(key)
        return state.withLock { state in
            if var fullAt = state.fullAt[storedKey] {
                let retry = rule.take(&fullAt, now: now)
                state.fullAt[storedKey] = fullAt
                return retry.map { .refused(retryAfterNanos: $0, overflow: false) } ?? .allowed
            }
            if state.fullAt.count >= maxKeys { RateLimitTable.sweep(&state, now: now) }
            if state.fullAt.count < maxKeys {
                var fullAt: Int64 = 0
                let retry = rule.take(&fullAt, now: now)
                if retry == nil { state.fullAt[storedKey] = fullAt }
                return retry.map { .refused(retryAfterNanos: $0, overflow: false) } ?? .allowed
            }
            let retry = rule.take(&state.overflowFullAt, now: now)
            return retry.map { .refused(retryAfterNanos: $0, overflow: true) } ?? .allowed
        }
    }

    /// Drops the buckets that are full again; at most once per "earliest moment one could be".
    private static func sweep(_ state: inout State, now: Int64) {
        guard now >= state.nextSweep else { return }
        var earliest = Int64.max
        state.fullAt = state.fullAt.filter { _, fullAt in
            if fullAt <= now { return false }
            earliest = min(earliest, fullAt)
            return true
        }
        state.nextSweep = earliest
    }

    /// Keys tracked now (tests, and the bound on memory).
    var keyCount: Int { state.withLock { $0.fullAt.count } }
}
