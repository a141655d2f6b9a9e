/// One downstream listening socket and its routes.
public struct ListenerConfig: Sendable {
    public var name: String
    public var address: SocketAddressSpec
    /// Whether grpc-websockets upgrades are accepted (routes may override).
    public var websocket: Bool
    /// nil = no CORS headers at all on this listener (unless a route sets its own).
    public var cors: CORSPolicy?
    public var routes: [RouteConfig]
    /// nil = cleartext HTTP/1.1.
    public var tls: DownstreamTLSConfig?
    /// Accept HTTP/2: ALPN `h2` over TLS, prior-knowledge h2c (the connection preface) in cleartext.
    public var http2 = true
    /// `x-forwarded-for` / `x-forwarded-proto` on upstream requests, and which peers may forward for others.
    public var forwardedHeaders = ForwardedHeadersConfig()

    public init(
        name: String, address: SocketAddressSpec, websocket: Bool = true, cors: CORSPolicy? = nil,
        routes: [RouteConfig] = [], tls: DownstreamTLSConfig? = nil
    ) {
        self.name = name
        self.address = address
        self.websocket = websocket
        self.cors = cors
        self.routes = routes
        self.tls = tls
    }
}
