import Synchronization

/// Bytes queued in every `TCPConnection`'s write buffer in this process, both directions: the figure the overload
/// manager budgets. Each connection reports its own changes (a relaxed atomic add when its queue grows or drains;
/// a corked write and its flush are one add each), so reading the total is one load.
public enum BufferedBytesGauge {
    private static let total = Atomic<Int>(0)

    @inline(__always) static func add(_ delta: Int) {
        total.add(delta, ordering: .relaxed)
    }

    public static var current: Int { total.load(ordering: .relaxed) }
}
