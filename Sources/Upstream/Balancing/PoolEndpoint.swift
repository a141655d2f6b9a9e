import EventLoop
import Transport

/// One endpoint as one worker's pool sees it: the HTTP/2 connections this worker has to it, the calls in flight
/// there (for least-request), the connect back-off and the passive outlier state. Loop-confined.
///
/// It is the owner of its connections, so connection events arrive already tagged with their endpoint.
final class PoolEndpoint: HTTP2ClientConnectionOwner {
    let shared: SharedEndpoint
    /// The pool owns its endpoints and lives as long as the worker: unowned(unsafe), since a weak reference would
    /// give the pool a side table and every retain of it on the call path the slow route.
    unowned(unsafe) var pool: ClusterPool?
    var connections: [HTTP2ClientConnection] = []
    var backoff = ConnectBackoff()
    var outlier = OutlierState()
    /// Removed by a DNS update: takes no new calls, its connections close once idle.
    var retired = false
    /// The shared recovery count last acted on (see `SharedEndpoint.recoveryCount`).
    var seenRecoveries: UInt32
    /// Counters for `/metrics`: plain Ints touched only on this worker's loop, read there by the scrape's
    /// snapshot (see `ClusterPool.endpointMetrics`).
    var connectionsOpened = 0
    var connectionsFailed = 0
    /// Connections whose TLS handshake failed (a subset of `connectionsFailed`).
    var tlsHandshakeFailures = 0
    var ejections = 0

    init(shared: SharedEndpoint, pool: ClusterPool) {
        self.shared = shared
        self.pool = pool
        self.seenRecoveries = shared.recoveryCount
    }

    var address: SocketAddress { shared.address }

    /// Calls on this worker using (or waiting for) a connection to this endpoint.
    var inFlight: Int {
        var n = 0
        for c in connections { n += c.activeStreams }
        return n
    }

    /// Connections not yet closed or draining after GOAWAY.
    var liveConnections: Int {
        var n = 0
        for c in connections where c.state == .connecting || c.state == .ready { n += 1 }
        return n
    }

    /// True when a call could start here now: a connection has a free stream or another may be opened.
    func canTakeStream(maxConnections: Int) -> Bool {
        connections.contains { $0.hasCapacity } || liveConnections < maxConnections
    }

    /// A connection with a free stream, opening a new one when all are full and the cap allows.
    func acquireConnection(loop: EventLoop, readBuffer: LoopReadBuffer, settings: UpstreamSettings) -> HTTP2ClientConnection? {
        if let c = connections.first(where: { $0.hasCapacity }) { return c }
        guard liveConnections < settings.maxConnectionsPerEndpoint else { return nil }
        do {
            let c = try HTTP2ClientConnection(loop: loop, address: address, host: shared.host, readBuffer: readBuffer, settings: settings)
            c.owner = self
            connections.append(c)
            connectionsOpened += 1
            return c
        } catch {
            // socket() or an immediate connect error: the same as a refused connect for balancing purposes.
            connectionsOpened += 1
            connectionsFailed += 1
            backoff.connectFailed(now: loop.now)
            Log.debug("upstream", "cannot open a connection to \(address): \(error)")
            return nil
        }
    }

    // MARK: HTTP2ClientConnectionOwner (forwarded to the pool with the endpoint attached)

    func connectionBecameReady(_ c: HTTP2ClientConnection) {
        backoff.connected()
        pool?.connectionBecameReady(c, on: self)
    }

    func connectionHasCapacity(_ c: HTTP2ClientConnection) {
        pool?.connectionHasCapacity(c, on: self)
    }

    func connectionClosed(_ c: HTTP2ClientConnection, failedWaiting: [UpstreamStream], reason: String, connectFailed: Bool) {
        connections.removeAll { $0 === c }
        if connectFailed { connectionsFailed += 1 }
        if c.tlsHandshakeFailed { tlsHandshakeFailures += 1 }
        pool?.connectionClosed(c, on: self, failedWaiting: failedWaiting, reason: reason, connectFailed: connectFailed)
    }

    func connectionRefusedStream(_ c: HTTP2ClientConnection, _ stream: UpstreamStream) {
        pool?.connectionRefusedStream(c, stream)
    }
}
