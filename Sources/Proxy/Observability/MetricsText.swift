/// Renders a `MetricsSnapshot` in the Prometheus text format (version 0.0.4): a `# HELP` and `# TYPE` line per
/// family, series sorted by label values so two scrapes diff cleanly, durations in seconds.
public enum MetricsText {
    public static func render(_ s: MetricsSnapshot) -> String {
        var out = ""
        family(&out, "grpcwebproxy_calls_total", "counter", "Finished calls by listener, route, cluster, transport and gRPC status.")
        for (k, v) in s.calls.sorted(by: { callOrder($0.key, $1.key) }) {
            series(&out, "grpcwebproxy_calls_total", [("listener", k.listener), ("route", k.route), ("cluster", k.cluster),
                                                      ("transport", k.transport), ("grpc_status", String(k.grpcStatus))], v)
        }
        let inFlight = "grpcwebproxy_calls_in_flight"
        family(&out, inFlight, "gauge", "Calls routed and not yet finished, by route and cluster (streams included).")
        for (k, v) in s.inFlight.sorted(by: { ($0.key.route, $0.key.cluster) < ($1.key.route, $1.key.cluster) }) {
            series(&out, inFlight, [("route", k.route), ("cluster", k.cluster)], v)
        }
        let rejected = "grpcwebproxy_rejected_calls_total"
        family(&out, rejected, "counter",
               "Calls refused before reaching upstream, by listener, route, the stage that refused them (jwt, rate_limit, concurrency, ...) and why.")
        for (k, v) in s.rejections.sorted(by: { ($0.key.listener, $0.key.route, $0.key.stage, $0.key.reason) < ($1.key.listener, $1.key.route, $1.key.stage, $1.key.reason) }) {
            series(&out, rejected, [("listener", k.listener), ("route", k.route), ("stage", k.stage), ("reason", k.reason)], v)
        }
        let routes = s.routes.sorted { ($0.key.route, $0.key.cluster) < ($1.key.route, $1.key.cluster) }
        let payload: [(String, String, KeyPath<MetricsSnapshot.RouteTotals, Int>)] = [
            ("grpcwebproxy_request_bytes_total", "Request payload bytes received from clients (gRPC frames as sent upstream).", \.requestBytes),
            ("grpcwebproxy_response_bytes_total", "Response payload bytes sent to clients.", \.responseBytes),
            ("grpcwebproxy_request_messages_total", "Request messages received from clients.", \.requestMessages),
            ("grpcwebproxy_response_messages_total", "Response messages sent to clients.", \.responseMessages),
        ]
        for (name, help, path) in payload {
            family(&out, name, "counter", help + " Counted when the call finishes.")
            for (k, t) in routes { series(&out, name, [("route", k.route), ("cluster", k.cluster)], t[keyPath: path]) }
        }
        let histogram = "grpcwebproxy_call_duration_seconds"
        family(&out, histogram, "histogram", "Call duration from the request's arrival to the call's end, by route and cluster.")
        for (k, t) in routes {
            let labels = [("route", k.route), ("cluster", k.cluster)]
            var cumulative = 0
            for (i, bound) in CallDurationBuckets.upperBoundsSeconds.enumerated() {
                cumulative += t.bucketCounts[i]
                series(&out, histogram + "_bucket", labels + [("le", number(bound))], cumulative)
            }
            series(&out, histogram + "_bucket", labels + [("le", "+Inf")], cumulative + t.bucketCounts[t.bucketCounts.count - 1])
            line(&out, histogram + "_sum", labels, number(Double(t.durationSumNanos) / 1e9))
            series(&out, histogram + "_count", labels, t.count)
        }
        let endpoints = s.endpoints.sorted { ($0.key.cluster, $0.key.endpoint) < ($1.key.cluster, $1.key.endpoint) }
        let perEndpoint: [(String, String, String, (MetricsSnapshot.EndpointTotals) -> Int)] = [
            ("grpcwebproxy_upstream_connections_open", "gauge", "Upstream HTTP/2 connections open or opening, all workers.", { $0.connectionsOpen }),
            ("grpcwebproxy_upstream_connections_opened_total", "counter", "Upstream connection attempts.", { $0.connectionsOpened }),
            ("grpcwebproxy_upstream_connections_failed_total", "counter",
             "Upstream connection attempts that failed before HTTP/2 was up (connect, TLS or timeout).", { $0.connectionsFailed }),
            ("grpcwebproxy_upstream_tls_handshake_failures_by_endpoint_total", "counter",
             "Upstream TLS handshakes that failed (verification, ALPN, alert, timeout), per endpoint.", { $0.tlsHandshakeFailures }),
            ("grpcwebproxy_endpoint_healthy", "gauge", "1 while the endpoint passes its active health checks (always 1 without health_check).",
             { $0.healthy ? 1 : 0 }),
            ("grpcwebproxy_endpoint_ejections_total", "counter",
             "Passive outlier ejections of the endpoint, summed over workers (each worker ejects on its own).", { $0.ejections }),
        ]
        for (name, type, help, value) in perEndpoint {
            family(&out, name, type, help)
            for (k, e) in endpoints { series(&out, name, [("cluster", k.cluster), ("endpoint", k.endpoint)], value(e)) }
        }
        let downstream = "grpcwebproxy_downstream_connections_open"
        family(&out, downstream, "gauge", "Open client connections by listener and HTTP version.")
        for (k, v) in s.downstreamOpen.sorted(by: { ($0.key.listener, $0.key.httpVersion) < ($1.key.listener, $1.key.httpVersion) }) {
            series(&out, downstream, [("listener", k.listener), ("http_version", k.httpVersion)], v)
        }
        return out
    }

    /// A label value as the text format wants it: backslash, double quote and line feed escaped.
    public static func escape(_ value: String) -> String {
        guard value.utf8.contains(where: { $0 == UInt8(ascii: "\\") || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\n") }) else {
            return value
        }
        var out = ""
        for ch in value.unicodeScalars {
            switch ch {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(ch)
            }
        }
        return out
    }

    /// Bucket bounds and sums: shortest form that reads back the same (`0.001`, `1`, `3600`).
    static func number(_ v: Double) -> String {
        if v == v.rounded() && abs(v) < 1e15 { return String(Int64(v)) }
        return String(v)
    }

    private static func callOrder(_ a: MetricsSnapshot.CallKey, _ b: MetricsSnapshot.CallKey) -> Bool {
        (a.listener, a.route, a.cluster, a.transport, a.grpcStatus) < (b.listener, b.route, b.cluster, b.transport, b.grpcStatus)
    }

    private static func family(_ out: inout String, _ name: String, _ type: String, _ help: String) {
        out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
    }

    private static func series(_ out: inout String, _ name: String, _ labels: [(String, String)], _ value: Int) {
        line(&out, name, labels, String(value))
    }

    private static func line(_ out: inout String, _ name: String, _ labels: [(String, String)], _ value: String) {
        out += name
        out += "{"
        out += labels.map { "\($0.0)=\"\(escape($0.1))\"" }.joined(separator: ",")
        out += "} "
        out += value
        out += "\n"
    }
}
