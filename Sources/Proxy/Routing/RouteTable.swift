public import Config
public import HTTP1Codec

/// A listener's routes compiled once at startup. First match wins, as written in the config; `method:` and
/// `service:` routes are found through dictionaries, so their lookup cost does not grow with the number of
/// routes; only `prefix:` routes are scanned (in order).
public struct RouteTable: Sendable {
    public let routes: [RouteConfig]
    private var byMethod: [String: [Int]] = [:]
    private var byService: [String: [Int]] = [:]
    private var prefixes: [(prefix: String, index: Int)] = []

    public init(routes: [RouteConfig]) {
        self.routes = routes
        for (i, r) in routes.enumerated() {
            switch r.match {
            case .method(let m): byMethod[m, default: []].append(i)
            case .service(let s): byService[s, default: []].append(i)
            case .prefix(let p): prefixes.append((p, i))
            }
        }
    }

    /// The first route (in config order) matching `path` ("/pkg.Service/Method") and `headers`.
    public func match(path: String, headers: HTTPHeaders) -> RouteConfig? {
        var best = Int.max
        let (service, method) = RouteTable.split(path)
        if let method, let candidates = byMethod[method] {
            for i in candidates where i < best && headersMatch(routes[i], headers) { best = i; break }
        }
        if let service, let candidates = byService[service] {
            for i in candidates where i < best && headersMatch(routes[i], headers) { best = i; break }
        }
        for (p, i) in prefixes {
            if i >= best { break }
            if path.hasPrefix(p) && headersMatch(routes[i], headers) { best = i; break }
        }
        return best == Int.max ? nil : routes[best]
    }

    private func headersMatch(_ r: RouteConfig, _ headers: HTTPHeaders) -> Bool {
        for h in r.headers where headers[h.name] != h.value { return false }
        return true
    }

    /// "/pkg.Service/Method" -> ("pkg.Service", "pkg.Service/Method"); nil parts when the path has another shape.
    /// Works on UTF-8 offsets: String index arithmetic showed up in profiles of the per-call path.
    static func split(_ path: String) -> (service: String?, method: String?) {
        let utf8 = path.utf8
        let slash = UInt8(ascii: "/")
        guard utf8.first == slash else { return (nil, nil) }
        let afterFirst = utf8.index(after: utf8.startIndex)
        guard let second = utf8[afterFirst...].firstIndex(of: slash) else { return (nil, nil) }
        let service = String(path[afterFirst..<second])
        let methodStart = utf8.index(after: second)
        if service.isEmpty { return (nil, nil) }
        if methodStart == utf8.endIndex || utf8[methodStart...].contains(slash) { return (service, nil) }
        return (service, String(path[afterFirst...]))
    }
}
