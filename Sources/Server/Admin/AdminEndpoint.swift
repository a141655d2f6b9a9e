import Config
import EventLoop
import Glibc
import Proxy
import Transport

/// The admin endpoint's state on its own loop (thread "admin"): the listener, the open connections and their cap.
/// It has a loop of its own so that a scraper or a misbehaving admin client never takes time from proxy traffic,
/// and a stalled proxy worker never makes the readiness probe fail. Loop-confined.
final class AdminEndpoint {
    let loop: EventLoop
    let readBuffer = LoopReadBuffer()
    let limits: DownstreamLimits
    let maxConnections: Int
    let stats: AdminStats
    let server: ProxyServer
    private(set) var listener: TCPListener?
    private var connections: [ObjectIdentifier: AdminConnection] = [:]

    init(loop: EventLoop, config: AdminConfig, limits: DownstreamLimits, stats: AdminStats, server: ProxyServer) {
        self.loop = loop
        self.limits = limits
        self.maxConnections = config.maxConnections
        self.stats = stats
        self.server = server
    }

    func listen(on address: SocketAddress) throws {
        listener = try TCPListener(loop: loop, address: address, sharing: .exclusive) { [unowned self] fd, _ in
            accept(fd)
        }
    }

    private func accept(_ fd: Int32) {
        guard connections.count < maxConnections else {
            stats.connectionsRejectedTotal.add(1)
            Log.debug("admin", "closing a new admin connection: \(maxConnections) already open (admin.max_connections)")
            Glibc.close(fd)
            return
        }
        let connection = AdminConnection(fd: fd, endpoint: self)
        connections[ObjectIdentifier(connection)] = connection
        stats.connectionsTotal.add(1)
        stats.connectionsActive.add(1)
    }

    func connectionClosed(_ connection: AdminConnection) {
        if connections.removeValue(forKey: ObjectIdentifier(connection)) != nil {
            stats.connectionsActive.subtract(1)
        }
    }

    /// An admin answer built later (from the workers' reports), handed to the connection on this loop.
    struct Answer {
        var status = 200
        var contentType: String
        var body: String
    }

    /// The answer to a `GET` of `path` that needs the workers or the running config, or nil when `path` is not
    /// one of those. `done` runs on this loop, on a later turn when the workers are asked.
    func answer(_ path: String, _ done: @escaping (Answer) -> Void) -> Bool {
        let json = "application/json"
        switch path {
        case "/metrics":
            metricsText { done(Answer(contentType: "text/plain; version=0.0.4", body: $0)) }
        case "/config":
            let config = server.currentConfig
            let header = "# The running config (hash \(String(ConfigReload.hash(config), radix: 16))), as parsed, with secrets and key file paths redacted.\n"
            done(Answer(contentType: "application/yaml", body: header + config.redactedYAML))
        case "/clusters":
            let config = server.currentConfig
            server.collectFromWorkers(replyOn: loop, timeout: Self.workerTimeout, { $0.report(recent: false) }) { reports, missing in
                done(Answer(contentType: json, body: ClustersView.render(config: config, reports: reports, missing: missing)))
            }
        case "/listeners":
            let config = server.currentConfig
            let bound = server.listenerBoundAddresses
            server.collectMetrics(replyOn: loop, timeout: Self.workerTimeout) { metrics, missing in
                done(Answer(contentType: json, body: ListenersView.render(config: config, bound: bound, metrics: metrics, missing: missing)))
            }
        case "/stats.json":
            let config = server.currentConfig
            server.collectFromWorkers(replyOn: loop, timeout: Self.workerTimeout, { $0.report(recent: true) }) { reports, missing in
                done(Answer(contentType: json, body: StatsView.render(config: config, reports: reports, missing: missing)))
            }
        case "/":
            done(Answer(contentType: "text/html; charset=utf-8", body: DashboardPage.html))
        default:
            return false
        }
        return true
    }

    /// How long an admin request waits for a busy worker before answering without it.
    static let workerTimeout = Duration.seconds(2)

    /// The whole `/metrics` text: the proxy's unlabelled counters, the labelled metrics summed over the workers
    /// (gathered from each worker's loop, so `done` runs on a later turn of this loop), then the admin endpoint's
    /// own counters and the access log's.
    func metricsText(_ done: @escaping (String) -> Void) {
        server.collectMetrics(replyOn: loop, timeout: Self.workerTimeout) { [self] snapshot, missing in
            var text = server.stats.prometheusText() + MetricsText.render(snapshot)
            text += "# HELP grpcwebproxy_metrics_workers_missing Workers that did not answer this scrape in time (their labelled metrics are left out).\n"
            text += "# TYPE grpcwebproxy_metrics_workers_missing gauge\ngrpcwebproxy_metrics_workers_missing \(missing)\n"
            done(text + stats.prometheusText() + server.accessLogMetricsText())
        }
    }
}
