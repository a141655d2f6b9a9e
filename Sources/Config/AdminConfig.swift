/// The admin endpoint (readiness, liveness, metrics, the running config, the dashboard). Absent from the file = no
/// admin listener.
public struct AdminConfig: Sendable {
    /// Where `admin: {}` listens when it names no address: loopback only. The endpoint tells anyone who can reach
    /// it about the traffic and the config, so it must not face the network unless the operator says so.
    public static let defaultAddress = SocketAddressSpec(host: "127.0.0.1", port: 9901)

    /// Loopback (`127.0.0.1:9901`) by default and in every shipped config.
    public var address: SocketAddressSpec
    /// Concurrent admin connections (`max_connections`); new ones above it are closed at once.
    public var maxConnections: Int
    /// Non-OK calls each worker keeps for the dashboard (`recent_failed_calls`); the oldest is overwritten.
    /// 0 = none kept (the dashboard's table stays empty and no call pays for it).
    public var recentFailedCalls: Int

    public init(address: SocketAddressSpec = AdminConfig.defaultAddress, maxConnections: Int = 64, recentFailedCalls: Int = 50) {
        self.address = address
        self.maxConnections = maxConnections
        self.recentFailedCalls = recentFailedCalls
    }
}
