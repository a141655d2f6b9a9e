/// The request line and header section of one HTTP/1.x request, with the framing facts the
/// connection needs already worked out by the parser.
public struct HTTPRequestHead: Sendable, Equatable {
    public var method: String
    /// The request-target exactly as sent, e.g. "/pkg.Svc/M?x=1".
    public var target: String
    /// `target` up to (not including) the first '?'.
    public var path: String
    /// HTTP/1.0 -> 0, HTTP/1.1 -> 1.
    public var versionMinor: Int
    public var headers: HTTPHeaders
    /// HTTP/1.1: true unless `Connection: close`. HTTP/1.0: true only with `Connection: keep-alive`
    /// (and no `close`).
    public var keepAlive: Bool
    /// HTTP/1.1 with a `Connection` token "upgrade" and an `Upgrade` field. Always false for
    /// HTTP/1.0, where Upgrade must be ignored (RFC 9110 §7.8).
    public var isUpgrade: Bool
    public var bodyKind: HTTPBodyKind

    public init(method: String, target: String, path: String, versionMinor: Int, headers: HTTPHeaders,
                keepAlive: Bool, isUpgrade: Bool, bodyKind: HTTPBodyKind) {
        self.method = method
        self.target = target
        self.path = path
        self.versionMinor = versionMinor
        self.headers = headers
        self.keepAlive = keepAlive
        self.isUpgrade = isUpgrade
        self.bodyKind = bodyKind
    }
}
