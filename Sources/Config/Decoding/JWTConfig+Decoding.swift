internal import TLS

extension JWTProviderConfig {
    static let knownKeys = [
        "name", "issuer", "audiences", "jwks_file", "jwks_uri", "jwks_refresh", "jwks_ca", "from", "forward_claims",
        "clock_skew", "cache_size", "max_token_size", "forward_jwt",
    ]
    /// Most entries of one provider's verified-token cache (per worker).
    static let maxCacheSize = 1_000_000
    /// Headers a claim may not be forwarded as: the request's framing and routing, and gRPC's own.
    static let reservedHeaders: Set<String> = [
        "host", "content-type", "content-length", "te", "connection", "transfer-encoding", "upgrade",
        "keep-alive", "proxy-connection", "user-agent",
    ]

    init(decoding node: ConfigNode) throws(ConfigError) {
        let mapping = try node.mapping(knownKeys: JWTProviderConfig.knownKeys)
        self.init(name: try mapping.required("name").nonEmptyString())
        if let value = mapping.optional("issuer") { issuer = try value.nonEmptyString() }
        if let value = mapping.optional("audiences") { audiences = try value.stringList() }
        if let value = mapping.optional("jwks_refresh") { jwksRefresh = try value.duration(allowZero: false) }
        if let value = mapping.optional("clock_skew") { clockSkew = try value.duration() }
        if let value = mapping.optional("cache_size") { cacheSize = try value.integer(in: 0...JWTProviderConfig.maxCacheSize) }
        if let value = mapping.optional("forward_jwt") { forwardJWT = try value.bool() }
        if let value = mapping.optional("max_token_size") { maxTokenSize = try value.size(in: 256...(1 << 20)) }
        if let value = mapping.optional("from") { from = try JWTProviderConfig.decodeSources(value) }
        if let value = mapping.optional("forward_claims") { forwardClaims = try JWTProviderConfig.decodeForwardClaims(value) }
        if let value = mapping.optional("jwks_uri") {
            let uri = try value.nonEmptyString()
            guard uri.hasPrefix("https://"), uri.count > 8, !uri.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F }) else {
                throw value.error("jwks_uri must be an https:// URL")
            }
            jwksURI = uri
        }
        if let value = mapping.optional("jwks_ca") {
            guard jwksURI != nil else { throw mapping.keyError("jwks_ca", "jwks_ca needs jwks_uri (it checks that server's certificate)") }
            jwksCA = try value.fileReference()
        }
        if let value = mapping.optional("jwks_file") {
            let file = try value.fileReference()
            jwksFile = file
            keys = try JWTProviderConfig.loadKeys(file)
        }
        if jwksFile == nil && jwksURI == nil {
            throw mapping.keyError("name", "provider \"\(name)\" needs jwks_file or jwks_uri (where its public keys are)")
        }
    }

    /// Reads and checks the key file now: a bad key set is a config error at `jwks_file`, at start and on reload.
    static func loadKeys(_ file: TLSFileReference) throws(ConfigError) -> JWTKeySet {
        let text: String
        do {
            text = try ConfigLoader.readFile(file.path)
        } catch {
            throw file.location.error("\(file.path): \(error.message)")
        }
        do {
            return try JWKSDocument.parse(Array(text.utf8))
        } catch {
            throw file.location.error("\(file.path): \(error.message)")
        }
    }

    /// `from: [authorization_bearer, {cookie: session}, {metadata: x-auth}]`.
    static func decodeSources(_ node: ConfigNode) throws(ConfigError) -> [JWTTokenSource] {
        var sources: [JWTTokenSource] = []
        for item in try node.sequence() {
            if case .scalar = item.node.kind {
                let word = try item.choice(["authorization_bearer"], what: "token source")
                if word == "authorization_bearer" { sources.append(.authorizationBearer) }
                continue
            }
            let mapping = try item.mapping(knownKeys: ["cookie", "metadata"])
            guard mapping.entries.count == 1, let key = mapping.entries.first?.key else {
                throw item.error("a token source is authorization_bearer, {cookie: name} or {metadata: name}")
            }
            let valueNode = try mapping.required(key)
            let name = try valueNode.nonEmptyString()
            guard HeaderSyntax.isToken(name) else { throw valueNode.error("invalid \(key) name \"\(name)\"") }
            sources.append(key == "cookie" ? .cookie(name) : .metadata(name.lowercased()))
        }
        if sources.isEmpty { throw node.error("at least one token source is required") }
        return sources
    }

    /// `forward_claims: {sub: x-user-id}`: claim names as written, header names lower-cased and checked.
    static func decodeForwardClaims(_ node: ConfigNode) throws(ConfigError) -> [(claim: String, header: String)] {
        let mapping = try ConfigMapping(node, knownKeys: nil)
        var result: [(claim: String, header: String)] = []
        var headers = Set<String>()
        for entry in mapping.entries {
            let valueNode = node.child(entry.value, path: mapping.childPath(entry.key))
            let header = try valueNode.nonEmptyString().lowercased()
            guard HeaderSyntax.isToken(header) else { throw valueNode.error("invalid header name \"\(header)\"") }
            if reservedHeaders.contains(header) || header.hasPrefix("grpc-") {
                throw valueNode.error("header \"\(header)\" cannot carry a claim (reserved for the protocol)")
            }
            guard headers.insert(header).inserted else { throw valueNode.error("header \"\(header)\" is used twice") }
            result.append((claim: entry.key, header: header))
        }
        return result
    }
}

extension RouteJWT {
    static let knownKeys = ["provider", "required"]

    init(decoding node: ConfigNode) throws(ConfigError) {
        let mapping = try node.mapping(knownKeys: RouteJWT.knownKeys)
        self.init(provider: try mapping.required("provider").nonEmptyString())
        if let value = mapping.optional("required") { required = try value.bool() }
    }
}

extension ProxyConfig {
    /// `jwt_providers:` with unique names.
    static func decodeJWTProviders(_ node: ConfigNode) throws(ConfigError) -> [JWTProviderConfig] {
        var providers: [JWTProviderConfig] = []
        for item in try node.sequence() {
            let provider = try JWTProviderConfig(decoding: item)
            if providers.contains(where: { $0.name == provider.name }) {
                throw try item.mapping(knownKeys: JWTProviderConfig.knownKeys).required("name")
                    .error("duplicate JWT provider name \"\(provider.name)\"")
            }
            providers.append(provider)
        }
        return providers
    }

    /// Every route's `jwt.provider` must name a provider.
    func checkRouteJWTProviders(listenerNodes: [ConfigNode]) throws(ConfigError) {
        let names = Set(jwtProviders.map(\.name))
        for (listener, listenerNode) in zip(listeners, listenerNodes) {
            let routeNodes = try listenerNode.mapping(knownKeys: ListenerConfig.knownKeys).required("routes").sequence()
            for (route, routeNode) in zip(listener.routes, routeNodes) {
                guard let jwt = route.jwt, !names.contains(jwt.provider) else { continue }
                let providerNode = try routeNode.mapping(knownKeys: RouteConfig.knownKeys).required("jwt")
                    .mapping(knownKeys: RouteJWT.knownKeys).required("provider")
                var message = "unknown JWT provider \"\(jwt.provider)\""
                if let suggestion = KeySuggestion.nearest(to: jwt.provider, in: Array(names)) {
                    message += "; did you mean \"\(suggestion)\"?"
                }
                throw providerNode.error(message)
            }
        }
    }
}
