public import Config
public import HTTP1Codec

/// A listener's routes compiled once at startup. First match wins, as written in the config.
///
/// Lookup cost does not grow with the number of routes: `method:` and `service:` routes sit in hash tables keyed
/// by the matching part of the path, and `prefix:` routes in one hash table per distinct prefix length, so a
/// lookup costs two hash probes plus one per distinct prefix length, whatever the route count. Keys are
/// `Substring`s so a lookup hashes slices of the request path without allocating. A table entry lists the routes
/// with that key in config order (routes differing only in their `headers:` conditions); the lowest-numbered
/// route whose headers match, over all tables, wins.
public struct RouteTable: Sendable {
    public let routes: [RouteConfig]
    private var byMethod: [Substring: [Int]] = [:]
    private var byService: [Substring: [Int]] = [:]
    /// Prefix routes by prefix length in UTF-8 bytes, shortest first.
    private var prefixGroups: [PrefixGroup] = []

    private struct PrefixGroup: Sendable {
        let length: Int
        /// Lowest route index in the group: once a better match is known, the group can be skipped unhashed.
        let firstIndex: Int
        var table: [Substring: [Int]] = [:]
    }

    public init(routes: [RouteConfig]) {
        self.routes = routes
        var groups: [Int: PrefixGroup] = [:]
        for (i, r) in routes.enumerated() {
            switch r.match {
            case .method(let m): byMethod[Substring(m), default: []].append(i)
            case .service(let s): byService[Substring(s), default: []].append(i)
            case .prefix(let p):
                // Routes come in config order, so a group's first route is its lowest. Mutated in place: a copy
                // of the group would copy its table on every insert.
                let n = p.utf8.count
                if groups[n] == nil { groups[n] = PrefixGroup(length: n, firstIndex: i) }
                groups[n]!.table[Substring(p), default: []].append(i)
            }
        }
        prefixGroups = groups.values.sorted { $0.length < $1.length }
    }

    /// The first route (in config order) matching `path` ("/pkg.Service/Method") and `headers`.
    public func match(path: String, headers: HTTPHeaders) -> RouteConfig? {
        var best = Int.max
        let (service, method) = RouteTable.split(path)
        if let method, !byMethod.isEmpty, let candidates = byMethod[method] {
            best = firstMatching(candidates, below: best, headers)
        }
        if let service, !byService.isEmpty, let candidates = byService[service] {
            best = firstMatching(candidates, below: best, headers)
        }
        let utf8 = path.utf8
        let count = utf8.count
        for group in prefixGroups {
            if group.length > count { break }
            if group.firstIndex >= best { continue }
            let end = utf8.index(utf8.startIndex, offsetBy: group.length)
            if let candidates = group.table[path[..<end]] {
                best = firstMatching(candidates, below: best, headers)
            }
        }
        return best == Int.max ? nil : routes[best]
    }

    /// The first of `candidates` (ascending) below `best` whose header conditions hold, else `best`.
    private func firstMatching(_ candidates: [Int], below best: Int, _ headers: HTTPHeaders) -> Int {
        for i in candidates {
            if i >= best { break }
            if headersMatch(routes[i], headers) { return i }
        }
        return best
    }

    private func headersMatch(_ r: RouteConfig, _ headers: HTTPHeaders) -> Bool {
        for h in r.headers where headers[h.name] != h.value { return false }
        return true
    }

    /// "/pkg.Service/Method" -> ("pkg.Service", "pkg.Service/Method"), as slices of `path`. The service part is
    /// given whenever the path has a non-empty segment followed by "/" (so `service:` matches
    /// "/pkg.Service/anything"); the method part only for exactly two non-empty segments.
    static func split(_ path: String) -> (service: Substring?, method: Substring?) {
        let slash = UInt8(ascii: "/")
        let utf8 = path.utf8
        guard let first = utf8.first, first == slash else { return (nil, nil) }
        let serviceStart = utf8.index(after: utf8.startIndex)
        guard let serviceEnd = utf8[serviceStart...].firstIndex(of: slash), serviceEnd > serviceStart else { return (nil, nil) }
        let service = path[serviceStart..<serviceEnd]
        let methodStart = utf8.index(after: serviceEnd)
        if methodStart == utf8.endIndex || utf8[methodStart...].contains(slash) { return (service, nil) }
        return (service, path[serviceStart...])
    }
}
