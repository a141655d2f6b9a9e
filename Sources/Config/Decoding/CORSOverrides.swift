import YAML

/// The `cors:` fields actually written in one place. A route's overrides are laid over the
/// listener's policy field by field, so a route can, say, add one origin without repeating
/// max_age.
struct CORSOverrides {
    static let knownKeys = ["allow_origins", "allow_headers", "expose_headers", "max_age", "allow_credentials",
                            "allow_http_headers_param"]

    var allowOrigins: [String]?
    var allowHeaders: [String]?
    var exposeHeaders: [String]?
    /// `expose_headers: auto` (true) or a list (false); nil when the key is not written here.
    var exposeSentHeaders: Bool?
    var allowHTTPHeadersParam: Bool?
    var maxAge: Duration?
    var allowCredentials: Bool?
    let mapping: ConfigMapping
    /// Where `"*"` and `allow_credentials` are written here, to point at whichever makes a merged policy invalid.
    private var wildcardOriginNode: ConfigNode?
    private var allowCredentialsNode: ConfigNode?

    init(decoding node: ConfigNode) throws(ConfigError) {
        mapping = try node.mapping(knownKeys: CORSOverrides.knownKeys)
        if let value = mapping.optional("allow_origins") {
            var origins: [String] = []
            for item in try value.sequence() {
                let origin = try item.string()
                if let problem = CORSPolicy.problem(withOriginPattern: origin) { throw item.error(problem) }
                if origin == "*" { wildcardOriginNode = item }
                origins.append(origin)
            }
            allowOrigins = origins
        }
        if let value = mapping.optional("allow_headers") { allowHeaders = try CORSOverrides.headerNames(value) }
        if let value = mapping.optional("expose_headers") {
            if case .scalar = value.node.kind {
                guard try value.string() == "auto" else {
                    throw value.error("expected \"auto\" (expose the headers each response carries) or a list of header names")
                }
                exposeSentHeaders = true
            } else {
                exposeHeaders = try CORSOverrides.headerNames(value)
                exposeSentHeaders = false
            }
        }
        if let value = mapping.optional("allow_http_headers_param") { allowHTTPHeadersParam = try value.bool() }
        if let value = mapping.optional("max_age") { maxAge = try value.duration() }
        if let value = mapping.optional("allow_credentials") {
            allowCredentials = try value.bool()
            allowCredentialsNode = value
        }
    }

    /// The effective policy: these fields over `base` (nil = this is the only policy, so
    /// `allow_origins` must be here).
    func merged(over base: CORSPolicy?) throws(ConfigError) -> CORSPolicy {
        var policy = base ?? CORSPolicy.configDefault
        if let allowOrigins {
            policy.allowOrigins = allowOrigins
        } else if base == nil {
            _ = try mapping.required("allow_origins")
        }
        if let allowHeaders { policy.allowHeaders = allowHeaders }
        if let exposeSentHeaders {
            policy.exposeSentHeaders = exposeSentHeaders
            policy.exposeHeaders = exposeHeaders ?? []
        }
        if let allowHTTPHeadersParam { policy.allowHTTPHeadersParam = allowHTTPHeadersParam }
        if let maxAge { policy.maxAge = maxAge }
        if let allowCredentials { policy.allowCredentials = allowCredentials }
        if policy.allowCredentials && policy.allowOrigins.contains("*") {
            // A listener policy with both was refused already, so one of the two is written here.
            let node = (allowCredentials == true ? allowCredentialsNode : nil) ?? wildcardOriginNode ?? mapping.base
            throw node.error(CORSOverrides.credentialsWithWildcard)
        }
        return policy
    }

    static let credentialsWithWildcard = "allow_origins \"*\" cannot be combined with allow_credentials: true. "
        + "The Fetch standard's CORS check fails a credentialed response whose Access-Control-Allow-Origin is \"*\", "
        + "and echoing every origin instead would let any site make calls with the user's cookies; "
        + "list the trusted origins instead"

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
