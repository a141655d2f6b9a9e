/// The last non-OK calls of one worker, for the dashboard: a ring of at most `capacity` summaries, the oldest
/// overwritten. Fed by `WorkerContext.callObservers`; an OK call costs one comparison. Loop-confined.
final class RecentFailedCalls {
    let capacity: Int
    private var ring: [CallSummary] = []
    /// Where the next summary goes once the ring is full (= the oldest entry).
    private var next = 0

    init(capacity: Int) {
        self.capacity = max(0, capacity)
    }

    func record(_ s: CallSummary) {
        guard s.grpcStatus != 0, capacity > 0 else { return }
        if ring.count < capacity {
            ring.append(s)
        } else {
            ring[next] = s
            next = (next + 1) % capacity
        }
    }

    /// Oldest first.
    func snapshot() -> [CallSummary] {
        Array(ring[next...] + ring[..<next])
    }
}
