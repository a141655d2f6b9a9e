/// What part of the gRPC path (`/package.Service/Method`) a route matches.
public enum RouteMatchKind: Sendable, Equatable, CustomStringConvertible {
    /// Any path starting with this string (always starts with "/").
    case prefix(String)
    /// Every method of one service: `package.Service` matches `/package.Service/*`.
    case service(String)
    /// One method: `package.Service/Method` matches exactly `/package.Service/Method`.
    case method(String)

    /// As written in the config, e.g. `prefix "/"`.
    public var description: String {
        switch self {
        case .prefix(let prefix): return "prefix \"\(prefix)\""
        case .service(let service): return "service \"\(service)\""
        case .method(let method): return "method \"\(method)\""
        }
    }

    /// A route's name when it has no `name:`: the match in one token, e.g. `service:pkg.Svc`.
    public var defaultName: String {
        switch self {
        case .prefix(let prefix): return "prefix:\(prefix)"
        case .service(let service): return "service:\(service)"
        case .method(let method): return "method:\(method)"
        }
    }
}
