import Config

/// Passive outlier detection for one endpoint on one worker: consecutive failures of real calls (connect
/// failures, lost connections, stream resets) eject it for a while; every further ejection lasts twice as long,
/// up to `max_ejection_time`. An endpoint that stays out of trouble for `max_ejection_time` after coming back
/// starts again from the base length. Pure value type: the pool supplies the clock.
struct OutlierState {
    private(set) var consecutiveFailures = 0
    /// Ejections so far (drives the back-off); reset after a long enough clean spell.
    private(set) var ejections = 0
    /// Monotonic nanoseconds until which the endpoint is out; 0 = never ejected.
    private(set) var ejectedUntil: UInt64 = 0

    func isEjected(now: UInt64) -> Bool { now < ejectedUntil }

    /// A call on this endpoint worked: the failure streak is over.
    mutating func recordSuccess() {
        consecutiveFailures = 0
    }

    /// Counts a failure. Returns true when the streak has reached the threshold and the endpoint should be
    /// ejected (the caller decides, then calls `eject`). Failures while ejected do not count: the endpoint
    /// gets a fresh streak when it comes back.
    mutating func recordFailure(now: UInt64, config: OutlierDetectionConfig) -> Bool {
        guard config.consecutiveFailures > 0, !isEjected(now: now) else { return false }
        consecutiveFailures += 1
        return consecutiveFailures >= config.consecutiveFailures
    }

    /// Ends the current ejection early (the active health checker saw the endpoint recover).
    mutating func lift(now: UInt64) {
        guard isEjected(now: now) else { return }
        ejectedUntil = now
        consecutiveFailures = 0
    }

    /// Ejects the endpoint and returns for how long.
    mutating func eject(now: UInt64, config: OutlierDetectionConfig) -> Duration {
        let maxNanos = UInt64(max(0, config.maxEjectionTime.nanoseconds))
        // A clean spell of max_ejection_time since the last ejection ended forgives the earlier ones.
        if ejectedUntil != 0 && now >= ejectedUntil &+ maxNanos { ejections = 0 }
        ejections += 1
        let base = UInt64(max(0, config.baseEjectionTime.nanoseconds))
        var length = base
        for _ in 1..<ejections where length < maxNanos { length = length.multipliedReportingOverflow(by: 2).partialValue }
        length = min(length, maxNanos)
        ejectedUntil = now &+ length
        consecutiveFailures = 0
        return .nanoseconds(Int64(length))
    }
}
