/// After a failed connect, an endpoint is passed over for new connections for a short, growing while (100 ms,
/// doubling, at most 5 s), so a dead endpoint costs one failed attempt per back-off step instead of one per call.
/// It only ranks the endpoint last: when every endpoint is backing off, they are tried anyway, so a cluster with
/// one endpoint behaves exactly as without back-off. A successful connect clears it.
struct ConnectBackoff {
    static let initialNanos: UInt64 = 100_000_000
    static let maxNanos: UInt64 = 5_000_000_000

    private var nextDelay = ConnectBackoff.initialNanos
    private(set) var until: UInt64 = 0

    func isBackingOff(now: UInt64) -> Bool { now < until }

    mutating func connectFailed(now: UInt64) {
        until = now &+ nextDelay
        nextDelay = min(nextDelay * 2, ConnectBackoff.maxNanos)
    }

    mutating func connected() {
        nextDelay = ConnectBackoff.initialNanos
        until = 0
    }
}
