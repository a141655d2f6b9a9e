import Config
import Proxy

/// `GET /listeners`: each listener's address (as configured and as bound), TLS and HTTP/2, its routes in match
/// order and its open client connections by HTTP version.
enum ListenersView {
    static func render(config: ProxyConfig, bound: [String: String], metrics: MetricsSnapshot, missing: Int) -> String {
        let listeners: [AdminJSON] = config.listeners.map { l in
            var byVersion: [String: Int] = [:]
            for (key, open) in metrics.downstreamOpen where key.listener == l.name { byVersion[key.httpVersion, default: 0] += open }
            return .object([
                ("name", .string(l.name)),
                ("address", .string(l.address.description)),
                ("bound_address", .optional(bound[l.name]) { .string($0) }),
                ("tls", .bool(l.tls != nil)),
                ("client_certificates", .bool(l.tls?.clientCA != nil)),
                ("http2", .bool(l.http2)),
                ("websocket", .bool(l.websocket)),
                ("cors", .bool(l.cors != nil)),
                ("routes", .array(l.routes.map { r in
                    .object([("name", .string(r.name)), ("match", .string(r.match.defaultName)), ("cluster", .string(r.cluster)),
                             ("timeout_ms", .milliseconds(r.timeout)),
                             // Names only: a header condition's value may be a shared secret.
                             ("header_conditions", .array(r.headers.map { .string($0.name) }))])
                })),
                ("connections_open", .int(byVersion.values.reduce(0, +))),
                ("connections_by_http_version", .object(byVersion.sorted { $0.key < $1.key }.map { ($0.key, .int($0.value)) })),
            ])
        }
        return AdminJSON.object([("listeners", .array(listeners)), ("workers_missing", .int(missing))]).render()
    }
}
