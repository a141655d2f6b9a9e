extension RouteConfig {
    static let knownKeys = [
        "name", "prefix", "service", "method", "headers", "cluster", "timeout", "max_request_bytes", "websocket", "cors",
        "jwt",
        "rate_limits", "concurrency_limit", "request_headers", "response_headers", "response_trailers",
    ]

    init(decoding node: ConfigNode, listenerCORS: CORSPolicy?) throws(ConfigError) {
        let mapping = try node.mapping(knownKeys: RouteConfig.knownKeys)
        let match = try RouteConfig.decodeMatch(mapping)
        let cluster = try mapping.required("cluster").nonEmptyString()
        self.init(match: match, cluster: cluster, cors: listenerCORS)
        if let value = mapping.optional("name") { name = try value.nonEmptyString() }
        if let value = mapping.optional("headers") { headers = try RouteConfig.decodeHeaders(value) }
        if let value = mapping.optional("timeout") { timeout = try value.duration() }
        if let value = mapping.optional("max_request_bytes") { maxRequestBytes = try value.size(in: 1...ConfigBounds.maxSize) }
        if let value = mapping.optional("websocket") { websocket = try value.bool() }
        if let value = mapping.optional("cors") { cors = try CORSOverrides(decoding: value).merged(over: listenerCORS) }
        if let value = mapping.optional("jwt") { jwt = try RouteJWT(decoding: value) }
        limits = try RouteLimits.decode(mapping)
        if let rules = try HeaderRules.decode(mapping) { headerRules = [rules] }
    }

    /// Exactly one of `prefix`, `service`, `method`, each checked against the gRPC path shape
    /// `/package.Service/Method`.
    static func decodeMatch(_ mapping: ConfigMapping) throws(ConfigError) -> RouteMatchKind {
        let present = ["prefix", "service", "method"].filter { mapping.has($0) }
        if present.isEmpty {
            throw ConfigError(
                file: mapping.base.file, line: mapping.base.position.line, column: mapping.base.position.column,
                path: mapping.path, message: "a route needs one of \"prefix\", \"service\" or \"method\"")
        }
        if present.count > 1 {
            throw mapping.keyError(present[1], "a route takes only one of \"prefix\", \"service\" or \"method\" (found \"\(present[0])\" and \"\(present[1])\")")
        }
        let key = present[0]
        let node = try mapping.required(key)
        let value = try node.string()
        switch key {
        case "prefix":
            guard value.hasPrefix("/") else { throw node.error("prefix must start with \"/\"") }
            return .prefix(value)
        case "service":
            if value.isEmpty { throw node.error("must not be empty") }
            if value.contains("/") {
                throw node.error("service must be a fully qualified service name without \"/\", e.g. \"helloworld.Greeter\"")
            }
            return .service(value)
        default:
            let parts = value.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw node.error("method must be \"package.Service/Method\" with exactly one \"/\"")
            }
            return .method(value)
        }
    }

    /// `headers: {name: value}`: names lower-cased (HTTP names are case-insensitive), values exact.
    static func decodeHeaders(_ node: ConfigNode) throws(ConfigError) -> [(name: String, value: String)] {
        let mapping = try ConfigMapping(node, knownKeys: nil)
        var headers: [(name: String, value: String)] = []
        var seen = Set<String>()
        for entry in mapping.entries {
            guard HeaderSyntax.isToken(entry.key) else {
                throw mapping.keyError(entry.key, "invalid header name \"\(entry.key)\"")
            }
            let name = entry.key.lowercased()
            guard seen.insert(name).inserted else {
                throw mapping.keyError(entry.key, "header \"\(name)\" is listed twice")
            }
            let valueNode = node.child(entry.value, path: mapping.childPath(entry.key))
            let value = try valueNode.string()
            guard HeaderSyntax.isValidValue(value) else { throw valueNode.error("header value contains control characters") }
            headers.append((name: name, value: value))
        }
        return headers
    }
}
