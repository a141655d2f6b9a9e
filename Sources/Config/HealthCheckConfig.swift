/// Active gRPC health checking (`grpc.health.v1.Health/Check`) of every endpoint of a cluster.
public struct HealthCheckConfig: Sendable {
    /// Time between two checks of one endpoint (`interval`).
    public var interval: Duration
    /// How long one check may take before it counts as failed (`timeout`).
    public var timeout: Duration
    /// Consecutive failures that mark a healthy endpoint unhealthy (`unhealthy_threshold`).
    public var unhealthyThreshold: Int
    /// Consecutive successes that bring an unhealthy endpoint back (`healthy_threshold`).
    public var healthyThreshold: Int
    /// The `service` field of the HealthCheckRequest; "" asks about the server as a whole.
    public var service: String

    public init(
        interval: Duration = .seconds(5), timeout: Duration = .seconds(1),
        unhealthyThreshold: Int = 3, healthyThreshold: Int = 2, service: String = ""
    ) {
        self.interval = interval
        self.timeout = timeout
        self.unhealthyThreshold = unhealthyThreshold
        self.healthyThreshold = healthyThreshold
        self.service = service
    }
}
