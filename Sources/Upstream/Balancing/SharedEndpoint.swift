import Synchronization
public import Transport

/// One resolved endpoint of a cluster as the whole process knows it: its address and the active health
/// checker's verdict. The resolver creates these (one object per address, kept while DNS keeps returning the
/// address) and hands the same objects to every worker; the health checker runs on one worker and writes the
/// verdict here, every other worker reads it with a relaxed atomic load when it picks an endpoint. So health
/// costs no lock and no cross-thread message on the request path, and a worker that receives a DNS update
/// gets the current verdict with it.
public final class SharedEndpoint: Sendable, CustomStringConvertible {
    public let address: SocketAddress
    /// The host as the config names it (a DNS name or an IP literal): the default TLS server name.
    public let host: String
    /// `address.description`, computed once: the identity used to compare DNS answers.
    public let key: String
    private let healthy = Atomic<Bool>(true)
    /// Bumped each time the health checker brings the endpoint back. Workers compare it with the value they saw
    /// last: a recovery proven by active checks also lifts their passive (per-worker) ejections.
    private let recoveries = Atomic<UInt32>(0)

    /// Endpoints start healthy: a new process or a freshly resolved address is used at once, and the first
    /// failed checks take it out, rather than failing every call until the first check has run.
    public init(address: SocketAddress, host: String? = nil) {
        self.address = address
        self.key = address.description
        self.host = host ?? address.host
    }

    /// The health checker's verdict (always true for clusters without `health_check`).
    public var isHealthy: Bool { healthy.load(ordering: .relaxed) }

    /// How many times the health checker has brought this endpoint back.
    var recoveryCount: UInt32 { recoveries.load(ordering: .relaxed) }

    /// Publishes a verdict. Returns true when it changed.
    @discardableResult
    func setHealthy(_ value: Bool) -> Bool {
        let changed = healthy.exchange(value, ordering: .relaxed) != value
        if changed && value { recoveries.add(1, ordering: .relaxed) }
        return changed
    }

    public var description: String { key }
}
