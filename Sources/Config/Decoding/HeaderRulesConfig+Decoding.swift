extension HeaderRules {
    static let sectionKeys = ["request_headers", "response_headers", "response_trailers"]
    static let editKeys = ["add", "set", "remove"]

    /// The `request_headers`, `response_headers` and `response_trailers` keys of a route or cluster (`mapping`);
    /// nil when it has none.
    static func decode(_ mapping: ConfigMapping) throws(ConfigError) -> HeaderRules? {
        var rules = HeaderRules()
        if let value = mapping.optional("request_headers") { rules.request = try HeaderEditRules(decoding: value, block: .request) }
        if let value = mapping.optional("response_headers") { rules.responseHeaders = try HeaderEditRules(decoding: value, block: .responseHeaders) }
        if let value = mapping.optional("response_trailers") { rules.responseTrailers = try HeaderEditRules(decoding: value, block: .responseTrailers) }
        return rules.isEmpty ? nil : rules
    }
}

extension HeaderEditRules {
    enum Block { case request, responseHeaders, responseTrailers }

    /// `{add: {name: value}, set: {name: value}, remove: [name]}`.
    init(decoding node: ConfigNode, block: Block) throws(ConfigError) {
        let mapping = try node.mapping(knownKeys: HeaderRules.editKeys)
        self.init()
        var seen = Set<String>()
        for key in ["add", "set"] {
            guard let value = mapping.optional(key) else { continue }
            let fields = try ConfigMapping(value, knownKeys: nil)
            for entry in fields.entries {
                let name = try HeaderEditRules.checkedName(entry.key, block: block, at: fields)
                // add then set of one name (or twice the same) says two things at once.
                guard seen.insert(name).inserted else { throw fields.keyError(entry.key, "header \"\(name)\" is edited twice") }
                let valueNode = value.child(entry.value, path: fields.childPath(entry.key))
                let template = try HeaderTemplate(decoding: valueNode)
                if key == "add" { add.append((name: name, value: template)) } else { set.append((name: name, value: template)) }
            }
        }
        if let value = mapping.optional("remove") {
            for item in try value.sequence() {
                let text = try item.string()
                guard HeaderSyntax.isToken(text) || text.hasPrefix(":") else { throw item.error("invalid header name \"\(text)\"") }
                if let why = HeaderEditRules.protectedReason(text.lowercased(), block: block) { throw item.error(why) }
                let name = text.lowercased()
                guard seen.insert(name).inserted else { throw item.error("header \"\(name)\" is edited twice") }
                remove.append(name)
            }
        }
    }

    static func checkedName(_ key: String, block: Block, at mapping: ConfigMapping) throws(ConfigError) -> String {
        let name = key.lowercased()
        if let why = protectedReason(name, block: block) { throw mapping.keyError(key, why) }
        guard HeaderSyntax.isToken(key) else { throw mapping.keyError(key, "invalid header name \"\(key)\"") }
        return name
    }

    /// Why a header cannot be edited by a rule, or nil: the proxy owns the framing and protocol fields.
    static func protectedReason(_ name: String, block: Block) -> String? {
        if name.hasPrefix(":") { return "pseudo-header \"\(name)\" cannot be edited (the proxy writes it)" }
        switch name {
        case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "trailer",
             "http2-settings":
            return "hop-by-hop header \"\(name)\" cannot be edited (it describes one connection, not the call)"
        case "content-type", "content-length", "host":
            return "header \"\(name)\" cannot be edited (the proxy writes it)"
        case "grpc-status", "grpc-message", "grpc-status-details-bin":
            return block == .request ? nil : "header \"\(name)\" cannot be edited (it carries the call's status)"
        case "grpc-timeout":
            return block == .request ? "header \"grpc-timeout\" cannot be edited (use the route's timeout)" : nil
        default:
            return nil
        }
    }
}

extension HeaderTemplate {
    static let variables = ["DOWNSTREAM_REMOTE_ADDRESS", "DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT", "ROUTE", "CLUSTER",
                            "REQ(name)", "CLAIM(name)"]

    init(decoding node: ConfigNode) throws(ConfigError) {
        let text = try node.string()
        guard HeaderSyntax.isValidValue(text) else { throw node.error("header value contains control characters") }
        do {
            try self.init(parsing: text)
        } catch {
            throw node.error(error.message)
        }
    }

    public struct SyntaxError: Error { public var message: String }

    /// `literal %VARIABLE% literal`; `%%` is a literal `%`.
    public init(parsing text: String) throws(SyntaxError) {
        var parts: [Part] = []
        var literal = ""
        var rest = text[...]
        while let percent = rest.firstIndex(of: "%") {
            literal += rest[..<percent]
            let afterPercent = rest.index(after: percent)
            if afterPercent < rest.endIndex && rest[afterPercent] == "%" {
                literal += "%"
                rest = rest[rest.index(after: afterPercent)...]
                continue
            }
            guard let close = rest[afterPercent...].firstIndex(of: "%") else {
                throw SyntaxError(message: "unterminated variable in \"\(text)\" (write %% for a literal %)")
            }
            let part = try HeaderTemplate.variable(String(rest[afterPercent..<close]))
            if !literal.isEmpty { parts.append(.literal(literal)); literal = "" }
            parts.append(part)
            rest = rest[rest.index(after: close)...]
        }
        literal += rest
        if !literal.isEmpty { parts.append(.literal(literal)) }
        self.init(parts: parts)
    }

    static func variable(_ name: String) throws(SyntaxError) -> Part {
        switch name {
        case "DOWNSTREAM_REMOTE_ADDRESS": return .downstreamAddress
        case "DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT": return .downstreamHost
        case "ROUTE": return .route
        case "CLUSTER": return .cluster
        default: break
        }
        for (prefix, isClaim) in [("REQ(", false), ("CLAIM(", true)] where name.hasPrefix(prefix) && name.hasSuffix(")") {
            let argument = String(name.dropFirst(prefix.count).dropLast())
            guard !argument.isEmpty else { throw SyntaxError(message: "%\(name)% needs a name") }
            if isClaim { return .claim(argument) }
            guard HeaderSyntax.isToken(argument) else { throw SyntaxError(message: "invalid header name \"\(argument)\" in %\(name)%") }
            return .requestHeader(argument.lowercased())
        }
        var message = "unknown variable %\(name)% (expected \(ConfigNode.list(variables.map { "%\($0)%" })))"
        if let suggestion = KeySuggestion.nearest(to: name, in: variables) { message += "; did you mean %\(suggestion)%?" }
        throw SyntaxError(message: message)
    }
}

extension ForwardedHeadersConfig {
    static let knownKeys = ["enabled", "trusted_proxies"]

    init(decoding node: ConfigNode) throws(ConfigError) {
        let mapping = try node.mapping(knownKeys: ForwardedHeadersConfig.knownKeys)
        self.init()
        if let value = mapping.optional("enabled") { enabled = try value.bool() }
        if let value = mapping.optional("trusted_proxies") {
            for item in try value.sequence() {
                let text = try item.string()
                guard let block = CIDRBlock(parsing: text) else {
                    throw item.error("invalid CIDR \"\(text)\" (expected an address or address/prefix: 10.0.0.0/8, 2001:db8::/32)")
                }
                trustedProxies.append(block)
            }
        }
    }
}
