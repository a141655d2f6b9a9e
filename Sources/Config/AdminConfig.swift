/// The admin endpoint (readiness, liveness, metrics). Absent from the file = no admin listener.
public struct AdminConfig: Sendable {
    /// Loopback (`127.0.0.1:9901`) in every shipped config: the endpoint tells anyone who can reach it about the
    /// traffic, so it should not face the network.
    public var address: SocketAddressSpec
    /// Concurrent admin connections (`max_connections`); new ones above it are closed at once.
    public var maxConnections: Int

    public init(address: SocketAddressSpec, maxConnections: Int = 64) {
        self.address = address
        self.maxConnections = maxConnections
    }
}
