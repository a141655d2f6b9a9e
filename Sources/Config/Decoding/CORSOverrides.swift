/// The `cors:` fields actually written in one place. A route's overrides are laid over the
/// listener's policy field by field, so a route can, say, add one origin without repeating
/// max_age.
struct CORSOverrides {
    static let knownKeys = ["allow_origins", "allow_headers", "expose_headers", "max_age", "allow_credentials"]

    var allowOrigins: [String]?
    var allowHeaders: [String]?
    var exposeHeaders: [String]?
    var maxAge: Duration?
    var allowCredentials: Bool?
    let mapping: ConfigMapping

    init(decoding node: ConfigNode) throws(ConfigError) {
        mapping = try node.mapping(knownKeys: CORSOverrides.knownKeys)
        if let value = mapping.optional("allow_origins") {
            var origins: [String] = []
            for item in try value.sequence() {
                let origin = try item.string()
                if let problem = CORSPolicy.problem(withOriginPattern: origin) { throw item.error(problem) }
                origins.append(origin)
            }
            allowOrigins = origins
        }
        if let value = mapping.optional("allow_headers") { allowHeaders = try CORSOverrides.headerNames(value) }
        if let value = mapping.optional("expose_headers") { exposeHeaders = try CORSOverrides.headerNames(value) }
        if let value = mapping.optional("max_age") { maxAge = try value.duration() }
        if let value = mapping.optional("allow_credentials") { allowCredentials = try value.bool() }
    }

    /// The effective policy: these fields over `base` (nil = this is the only policy, so
    /// `allow_origins` must be here).
    func merged(over base: CORSPolicy?) throws(ConfigError) -> CORSPolicy {
        var policy = base ?? CORSPolicy()
        if let allowOrigins {
            policy.allowOrigins = allowOrigins
        } else if base == nil {
            _ = try mapping.required("allow_origins")
        }
        if let allowHeaders { policy.allowHeaders = allowHeaders }
        if let exposeHeaders { policy.exposeHeaders = exposeHeaders }
        if let maxAge { policy.maxAge = maxAge }
        if let allowCredentials { policy.allowCredentials = allowCredentials }
        return policy
    }

    /// A list of header names, checked to be HTTP tokens and lower-cased.
    static func headerNames(_ node: ConfigNode) throws(ConfigError) -> [String] {
        var names: [String] = []
        for item in try node.sequence() {
            let name = try item.nonEmptyString()
            guard HeaderSyntax.isToken(name) else { throw item.error("invalid header name \"\(name)\"") }
            names.append(name.lowercased())
        }
        return names
    }
}
