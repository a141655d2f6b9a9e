import Proxy

/// Counters of the admin endpoint itself, exported next to the proxy's in `/metrics`.
final class AdminStats: Sendable {
    let connectionsTotal = Counter()
    let connectionsActive = Counter()
    /// Connections closed at accept because `admin.max_connections` were open.
    let connectionsRejectedTotal = Counter()
    let requestsTotal = Counter()

    func prometheusText() -> String {
        var out = ""
        func metric(_ name: String, _ help: String, _ value: Int, type: String = "counter") {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n\(name) \(value)\n"
        }
        metric("grpcwebproxy_admin_connections_total", "Accepted admin connections.", connectionsTotal.load())
        metric("grpcwebproxy_admin_connections_active", "Open admin connections.", connectionsActive.load(), type: "gauge")
        metric("grpcwebproxy_admin_connections_rejected_total", "Admin connections closed at once because admin.max_connections were open.",
               connectionsRejectedTotal.load())
        metric("grpcwebproxy_admin_requests_total", "Admin requests answered.", requestsTotal.load())
        return out
    }
}
