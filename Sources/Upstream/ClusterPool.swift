public import EventLoop
public import Transport

/// Connection settings for one cluster's upstream connections.
public struct UpstreamSettings: Sendable {
    public var connectTimeout: Duration = .seconds(5)
    public var maxConcurrentStreams = 1024
    public var maxConnectionsPerEndpoint = 4
    public var maxPending = 1024
    public var keepaliveInterval: Duration = .zero
    public var keepaliveTimeout: Duration = .seconds(20)
    public var initialStreamWindow = 1 << 20
    public var initialConnectionWindow = 16 << 20
    public var maxResponseHeaderBytes = 64 * 1024
    public init() {}
}

/// Per worker and per cluster: the HTTP/2 connections to each endpoint, multiplexing calls up to the server's
/// MAX_CONCURRENT_STREAMS, opening connections on demand, and a bounded queue for calls that cannot get a stream.
public final class ClusterPool: HTTP2ClientConnectionOwner {
    public let name: String
    let loop: EventLoop
    let settings: UpstreamSettings
    private let readBuffer: LoopReadBuffer
    private var endpoints: [Endpoint]
    private var nextEndpoint = 0
    private var pending: [UpstreamStream] = []

    final class Endpoint {
        let address: SocketAddress
        var connections: [HTTP2ClientConnection] = []
        init(address: SocketAddress) { self.address = address }
    }

    public init(name: String, loop: EventLoop, addresses: [SocketAddress], settings: UpstreamSettings, readBuffer: LoopReadBuffer) {
        self.name = name
        self.loop = loop
        self.settings = settings
        self.readBuffer = readBuffer
        self.endpoints = addresses.map(Endpoint.init)
    }

    /// Number of upstream connections currently open or opening (for metrics and tests).
    public var connectionCount: Int { endpoints.reduce(0) { $0 + $1.connections.count } }

    /// Starts a call. The stream is returned at once; failures arrive through the delegate on a later turn,
    /// never from inside this call, so callers need not handle re-entrancy.
    public func startStream(headers: [(String, String)], delegate: any UpstreamStreamDelegate) -> UpstreamStream {
        let stream = UpstreamStream(requestHeaders: headers, delegate: delegate)
        stream.pool = self
        assign(stream)
        return stream
    }

    private func assign(_ stream: UpstreamStream) {
        if endpoints.isEmpty {
            failLater(stream, .connectFailed("cluster \(name) has no resolved endpoints"))
            return
        }
        if let c = connectionWithCapacity() {
            c.attach(stream)
            return
        }
        if pending.count >= settings.maxPending {
            failLater(stream, .overloaded("cluster \(name) is overloaded: \(pending.count) calls already waiting for a stream"))
            return
        }
        pending.append(stream)
    }

    /// Round robin over endpoints; within an endpoint reuse a connection with free streams, else open one.
    private func connectionWithCapacity() -> HTTP2ClientConnection? {
        let n = endpoints.count
        for i in 0..<n {
            let ep = endpoints[(nextEndpoint + i) % n]
            if let c = ep.connections.first(where: { $0.hasCapacity }) {
                nextEndpoint = (nextEndpoint + i + 1) % n
                return c
            }
        }
        for i in 0..<n {
            let ep = endpoints[(nextEndpoint + i) % n]
            let live = ep.connections.filter { $0.state == .connecting || $0.state == .ready }
            if live.count < settings.maxConnectionsPerEndpoint {
                do {
                    let c = try HTTP2ClientConnection(loop: loop, address: ep.address, readBuffer: readBuffer, settings: settings)
                    c.owner = self
                    ep.connections.append(c)
                    nextEndpoint = (nextEndpoint + i + 1) % n
                    return c
                } catch {
                    continue
                }
            }
        }
        return nil
    }

    private func failLater(_ stream: UpstreamStream, _ failure: UpstreamFailure) {
        loop.deferUntilEndOfIteration { stream.finish(failure) }
    }

    func removePending(_ stream: UpstreamStream) {
        pending.removeAll { $0 === stream }
    }

    private func drainPending() {
        while !pending.isEmpty {
            guard let c = connectionWithCapacity() else { return }
            let s = pending.removeFirst()
            if s.isFinished { continue }
            c.attach(s)
        }
    }

    // MARK: HTTP2ClientConnectionOwner

    func connectionBecameReady(_ c: HTTP2ClientConnection) { drainPending() }
    func connectionHasCapacity(_ c: HTTP2ClientConnection) { drainPending() }

    func connectionClosed(_ c: HTTP2ClientConnection, failedWaiting: [UpstreamStream], reason: String, connectFailed: Bool) {
        for ep in endpoints { ep.connections.removeAll { $0 === c } }
        for s in failedWaiting where !s.isFinished {
            s.connection = nil
            // Waiting streams never reached a server: another endpoint may take them.
            if s.retriesLeft > 0 && endpoints.count > 1 {
                s.resetForRetry()
                assign(s)
            } else {
                s.finish(connectFailed ? .connectFailed(reason) : .connectionLost(reason))
            }
        }
        // Calls still pending would otherwise wait for a connection nobody opens.
        if connectFailed && !pending.isEmpty && endpoints.allSatisfy({ $0.connections.isEmpty }) {
            let stranded = pending
            pending = []
            for s in stranded { s.finish(.connectFailed(reason)) }
        } else {
            drainPending()
        }
    }

    func connectionRefusedStream(_ c: HTTP2ClientConnection, _ stream: UpstreamStream) {
        stream.resetForRetry()
        // Retry on the next turn: nghttp2 is mid-callback on the refusing connection.
        loop.deferUntilEndOfIteration { [weak self] in
            guard let self, !stream.isFinished else { return }
            self.assign(stream)
        }
    }
}
