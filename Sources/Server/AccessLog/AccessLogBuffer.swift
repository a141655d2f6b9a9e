import Synchronization
import EventLoop

/// One worker's lines waiting for the writer. The worker appends under a lock only the writer ever contends for
/// (when it swaps the bytes out, every 50 ms); above `limit` a line is dropped and counted, never waited for.
final class AccessLogBuffer: Sendable {
    static let limit = 1 << 20
    private let pending = Locked<[UInt8]>([])
    let dropped = Atomic<Int>(0)

    /// Lets `write` append one complete line in place (no copy), and takes it back out, counted as dropped, when
    /// it made the buffer exceed `limit`.
    func append(_ write: (inout [UInt8]) -> Void) {
        let taken = pending.withLock { bytes -> Bool in
            let before = bytes.count
            write(&bytes)
            guard bytes.count <= Self.limit else {
                bytes.removeSubrange(before...)
                return false
            }
            return true
        }
        if !taken { dropped.add(1, ordering: .relaxed) }
    }

    /// Moves everything buffered so far into `out` (whose old bytes, already written, are dropped); the buffer
    /// gets `out`'s storage back, so neither side reallocates in the steady state.
    func take(into out: inout [UInt8]) {
        out.removeAll(keepingCapacity: true)
        pending.withLock { swap(&$0, &out) }
    }
}
