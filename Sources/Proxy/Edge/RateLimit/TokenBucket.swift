/// Token bucket arithmetic in one number (the generic cell rate algorithm): instead of a token count and a last
/// refill time, a bucket stores the moment it will be full again (`fullAt`). Taking a token pushes that moment
/// one `interval` later; the call is allowed while it stays within `capacity` intervals of now. Refill is
/// continuous: one token every `interval` nanoseconds. Times are monotonic nanoseconds, passed in (tests use a
/// fake clock).
struct TokenBucketRule: Equatable {
    /// Nanoseconds per token (`period / count`).
    let interval: Int64
    /// Burst: tokens a full bucket holds.
    let capacity: Int64

    init(interval: Int64, capacity: Int) {
        self.interval = max(1, interval)
        self.capacity = Int64(capacity)
    }

    /// A bucket that has never been used, or has been idle long enough, is full: `fullAt <= now`.
    /// Returns nil and advances `fullAt` when a token was available; otherwise the nanoseconds until one is.
    func take(_ fullAt: inout Int64, now: Int64) -> Int64? {
        let next = max(fullAt, now) &+ interval
        let allowedUntil = now &+ interval &* capacity
        if next > allowedUntil { return next - allowedUntil }
        fullAt = next
        return nil
    }
}
