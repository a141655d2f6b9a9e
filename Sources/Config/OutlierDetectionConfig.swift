/// Passive outlier detection: an endpoint that keeps failing real traffic is ejected for a while.
public struct OutlierDetectionConfig: Sendable {
    /// Consecutive connect failures / resets before ejection (`consecutive_failures`); 0 = off.
    public var consecutiveFailures: Int
    /// First ejection length; each further ejection of the same endpoint is longer
    /// (`base_ejection_time`).
    public var baseEjectionTime: Duration
    /// Cap on the ejection length (`max_ejection_time`).
    public var maxEjectionTime: Duration

    public init(
        consecutiveFailures: Int = 5, baseEjectionTime: Duration = .seconds(30),
        maxEjectionTime: Duration = .seconds(300)
    ) {
        self.consecutiveFailures = consecutiveFailures
        self.baseEjectionTime = baseEjectionTime
        self.maxEjectionTime = maxEjectionTime
    }
}
