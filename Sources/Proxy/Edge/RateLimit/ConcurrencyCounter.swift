import Synchronization
import EventLoop

/// Calls in flight on one route, in total and per client key, shared by every worker (a slot taken on one
/// worker's thread may be released on the same one only, but the counts must add up across workers).
///
/// Per-client entries exist only while a client has calls in flight (removed at zero), at most `maxKeys`;
/// clients beyond that share one overflow count with the same per-client cap.
final class ConcurrencyCounter: Sendable {
    let maxCalls: Int?
    let maxPerClient: Int?
    let maxKeys: Int

    private let total = Atomic<Int>(0)
    private struct Clients {
        var inFlight: [String: Int] = [:]
        var overflow = 0
    }
    private let clients = Locked(Clients())

    init(maxCalls: Int?, maxPerClient: Int?, maxKeys: Int) {
        self.maxCalls = maxCalls
        self.maxPerClient = maxPerClient
        self.maxKeys = maxKeys
    }

    enum Refusal: Equatable { case route, client }

    /// Where a granted call's per-client slot was counted, for its release.
    enum ClientSlot: Sendable {
        case none
        case key(String)
        case overflow
    }

    /// Takes a route slot and a client slot (when configured), or neither.
    func acquire(client rawClient: String?) -> Result<ClientSlot, RefusalError> {
        if let maxCalls {
            var current = total.load(ordering: .relaxed)
            while true {
                if current >= maxCalls { return .failure(RefusalError(which: .route)) }
                let (exchanged, original) = total.compareExchange(expected: current, desired: current + 1, ordering: .acquiringAndReleasing)
                if exchanged { break }
                current = original
            }
        }
        guard let maxPerClient, let rawClient else { return .success(.none) }
        let client = RateLimitTable.storedKey(rawClient)
        let slot: ClientSlot? = clients.withLock { clients in
            if let count = clients.inFlight[client] {
                if count >= maxPerClient { return nil }
                clients.inFlight[client] = count + 1
                return .key(client)
            }
            if clients.inFlight.count < maxKeys {
                clients.inFlight[client] = 1
                return .key(client)
            }
            if clients.overflow >= maxPerClient { return nil }
            clients.overflow += 1
            return .overflow
        }
        guard let slot else {
            if maxCalls != nil { total.subtract(1, ordering: .acquiringAndReleasing) }
            return .failure(RefusalError(which: .client))
        }
        return .success(slot)
    }

    struct RefusalError: Error { let which: Refusal }

    func release(_ slot: ClientSlot) {
        if maxCalls != nil { total.subtract(1, ordering: .acquiringAndReleasing) }
        switch slot {
        case .none:
            return
        case .overflow:
            clients.withLock { $0.overflow -= 1 }
        case .key(let key):
            clients.withLock { clients in
                guard let count = clients.inFlight[key] else { return }
                if count <= 1 { clients.inFlight[key] = nil } else { clients.inFlight[key] = count - 1 }
            }
        }
    }

    var inFlight: Int { total.load(ordering: .relaxed) }
    var clientKeyCount: Int { clients.withLock { $0.inFlight.count } }
}
