/// Upper bounds for every size, count and duration in the config. A value near `Int.max` passes a
/// "must be greater than 0" check but overflows the first time the proxy adds a header length to it
/// (a 9223372036854775807-byte `max_frame_size` crashed the process on the first large frame), so each
/// key is capped far above any real need and far below anything arithmetic could overflow.
enum ConfigBounds {
    /// Any buffer, message, frame or body size: 1 GiB.
    static let maxSize = 1 << 30
    /// One request head (line + headers): 8 MiB, Envoy's ceiling for `max_request_headers_kb`.
    static let maxHeadersSize = 8 << 20
    /// Header fields per request.
    static let maxHeaderCount = 10_000
    /// Open connections per process; the kernel's default ceiling for open files (`fs.nr_open`) is 1,048,576.
    static let maxConnections = 10_000_000
    /// Concurrent admin connections: the admin endpoint serves probes and scrapers, not traffic.
    static let maxAdminConnections = 10_000
    /// Failed calls each worker keeps for the dashboard: each holds a call summary (a few hundred bytes).
    static let maxRecentFailedCalls = 10_000
    /// Requests queued per cluster and thresholds counted per endpoint.
    static let maxQueue = 1_000_000
    static let maxThreshold = 1_000_000
    /// Any timer or timeout: 365 days. Longer deadlines would wrap the loop's nanosecond clock arithmetic.
    static let maxDuration = Duration.seconds(365 * 24 * 3600)
}
