import Synchronization

/// Process-wide TLS counters of the upstream side (every worker's connections), read by /metrics.
public enum UpstreamTLSStats {
    private static let failures = Atomic<Int>(0)

    /// TLS handshakes with an upstream that failed (verification, ALPN, alert, timeout).
    public static var handshakeFailures: Int { failures.load(ordering: .relaxed) }

    static func recordHandshakeFailure() { failures.add(1, ordering: .relaxed) }
}
