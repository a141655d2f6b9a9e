/// A binary min-heap of (deadline, timer id). Cancelled timers stay in the heap and are skipped when they
/// surface (lazy deletion), which keeps cancel O(1) on the hot path (every call arms and cancels a timer).
/// The owner compacts the heap (`removeAll(where:)`) when cancelled entries outnumber live ones, so timers with
/// far deadlines (`grpc-timeout: 99999999H`) that are cancelled cannot accumulate.
struct TimerHeap {
    struct Entry {
        var deadline: UInt64
        var id: UInt64
    }
    private var entries: [Entry] = []

    var isEmpty: Bool { entries.isEmpty }
    var count: Int { entries.count }
    var first: Entry? { entries.first }

    mutating func push(_ e: Entry) {
        entries.append(e)
        var i = entries.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            if less(entries[i], entries[parent]) {
                entries.swapAt(i, parent)
                i = parent
            } else { break }
        }
    }

    mutating func pop() -> Entry? {
        guard !entries.isEmpty else { return nil }
        let top = entries[0]
        let last = entries.removeLast()
        if !entries.isEmpty {
            entries[0] = last
            siftDown(from: 0)
        }
        return top
    }

    /// Drops the entries `isDead` selects and restores the heap order in O(n) (bottom-up heapify).
    mutating func removeAll(where isDead: (Entry) -> Bool) {
        entries.removeAll(where: isDead)
        var i = entries.count / 2 - 1
        while i >= 0 {
            siftDown(from: i)
            i -= 1
        }
    }

    private mutating func siftDown(from start: Int) {
        var i = start
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < entries.count && less(entries[l], entries[m]) { m = l }
            if r < entries.count && less(entries[r], entries[m]) { m = r }
            if m == i { return }
            entries.swapAt(i, m)
            i = m
        }
    }

    /// Ties broken by id so timers with the same deadline fire in the order they were scheduled.
    private func less(_ a: Entry, _ b: Entry) -> Bool {
        a.deadline < b.deadline || (a.deadline == b.deadline && a.id < b.id)
    }
}
