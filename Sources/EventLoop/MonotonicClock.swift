import Glibc

/// Nanoseconds on CLOCK_MONOTONIC: the only clock the data plane uses (wall time never moves deadlines).
public enum MonotonicClock {
    @inline(__always)
    public static func nowNanos() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }
}

extension Duration {
    /// Whole nanoseconds, saturating at Int64.max; negative durations become 0.
    public var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        if seconds < 0 { return 0 }
        let (ns, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return Int64.max }
        return ns &+ attoseconds / 1_000_000_000
    }
}
