/// Finds routes that can never match because an earlier route of the same listener already
/// matches every request they would (for example anything after an unconditional `prefix: /`).
///
/// Route A covers route B when A's header conditions are a subset of B's and A's path match
/// contains B's. Earlier routes are indexed by their header-condition set, and inside a set by
/// exact prefix / service / method, so checking a route costs a few hash lookups per prefix
/// length rather than a scan of every earlier route: a 10,000-route listener stays fast.
struct RouteShadowIndex {
    private struct PathIndex {
        var prefixes: [String: Int] = [:]
        var prefixLengths: Set<Int> = []
        var services: [String: Int] = [:]
        var methods: [String: Int] = [:]
    }

    /// Keyed by the canonical form of a header-condition set ("" = no conditions).
    private var groups: [String: PathIndex] = [:]
    /// The sets themselves, for routes with too many conditions to enumerate their subsets.
    private var groupConditions: [String: Set<String>] = [:]

    /// Index of the first earlier route that covers `route`, if any.
    func earlierRouteCovering(_ route: RouteConfig) -> Int? {
        let conditions = RouteShadowIndex.conditions(route)
        var best: Int?
        func consider(_ key: String) {
            guard let group = groups[key], let index = RouteShadowIndex.covering(route.match, in: group) else { return }
            best = min(best ?? index, index)
        }
        if conditions.count <= 8 {
            // Every subset of this route's conditions is a header set an earlier route may have.
            for mask in 0..<(1 << conditions.count) {
                var subset: [String] = []
                for (bit, condition) in conditions.enumerated() where mask & (1 << bit) != 0 {
                    subset.append(condition)
                }
                consider(subset.joined(separator: "\u{0}"))
            }
        } else {
            let own = Set(conditions)
            for (key, set) in groupConditions where set.isSubset(of: own) {
                consider(key)
            }
        }
        return best
    }

    mutating func insert(_ route: RouteConfig, index: Int) {
        let conditions = RouteShadowIndex.conditions(route)
        let key = conditions.joined(separator: "\u{0}")
        if groups[key] == nil {
            groups[key] = PathIndex()
            groupConditions[key] = Set(conditions)
        }
        // Mutate the stored group in place: copying it out and back would copy its
        // dictionaries on every insert and make a long route list quadratic.
        switch route.match {
        case .prefix(let prefix):
            if groups[key]!.prefixes[prefix] == nil { groups[key]!.prefixes[prefix] = index }
            groups[key]!.prefixLengths.insert(prefix.utf8.count)
        case .service(let service):
            if groups[key]!.services[service] == nil { groups[key]!.services[service] = index }
        case .method(let method):
            if groups[key]!.methods[method] == nil { groups[key]!.methods[method] = index }
        }
    }

    /// Sorted "name\u{1}value" strings; header values cannot contain control characters, so the
    /// separators are unambiguous.
    private static func conditions(_ route: RouteConfig) -> [String] {
        route.headers.map { "\($0.name)\u{1}\($0.value)" }.sorted()
    }

    /// The earliest route in `group` whose path match contains everything `match` matches.
    private static func covering(_ match: RouteMatchKind, in group: PathIndex) -> Int? {
        var best: Int?
        func note(_ index: Int?) {
            if let index { best = min(best ?? index, index) }
        }
        // The set of paths `match` stands for, as "starts with `path`" (or equals it, for a method).
        let path: String
        switch match {
        case .prefix(let prefix):
            path = prefix
            // A service route covers prefixes inside "/service/".
            let bytes = Array(prefix.utf8)
            if let slash = bytes.dropFirst().firstIndex(of: UInt8(ascii: "/")) {
                note(group.services[String(decoding: bytes[1..<slash], as: UTF8.self)])
            }
        case .service(let service):
            path = "/" + service + "/"
            note(group.services[service])
        case .method(let method):
            path = "/" + method
            note(group.methods[method])
            if let slash = method.firstIndex(of: "/") {
                note(group.services[String(method[..<slash])])
            }
        }
        let bytes = path.utf8
        for length in group.prefixLengths where length <= bytes.count {
            note(group.prefixes[String(decoding: bytes.prefix(length), as: UTF8.self)])
        }
        return best
    }
}
