/// Process-wide budgets (key `overload:`), in the spirit of Envoy's overload manager. Pressure is the larger of
/// buffered bytes / `maxBufferedBytes` and resident memory / `maxRSS`; as it rises the proxy acts in stages:
///
/// | pressure | action |
/// |---|---|
/// | ≥ `stopAcceptingAt` (0.80) | new downstream connections are accepted and closed at once |
/// | ≥ `shedCallsAt` (0.90) | new calls are answered with grpc-status 14 without going upstream |
/// | ≥ 1.0 | the downstream connections holding the largest queues are reset until pressure is back below 0.95 |
public struct OverloadConfig: Sendable, Equatable {
    /// Bytes queued in the proxy's sockets, both directions, all connections (`max_buffered_bytes`); 0 = no budget.
    public var maxBufferedBytes: Int
    /// Resident set size of the process (`max_rss`); 0 = not watched.
    public var maxRSS: Int
    public static let stopAcceptingAt = 0.80
    public static let shedCallsAt = 0.90
    public static let resetUntilBelow = 0.95

    public init(maxBufferedBytes: Int = 1 << 30, maxRSS: Int = 0) {
        self.maxBufferedBytes = maxBufferedBytes
        self.maxRSS = maxRSS
    }

    public var isEnabled: Bool { maxBufferedBytes > 0 || maxRSS > 0 }
}
