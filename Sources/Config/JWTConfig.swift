public import TLS

/// `jwt_providers[]`: who issues the tokens a route may require, and how to check and use them.
public struct JWTProviderConfig: Sendable {
    public var name: String
    /// The `iss` a token must carry; nil = not checked.
    public var issuer: String?
    /// A token's `aud` (a string or a list) must contain one of these; empty = not checked.
    public var audiences: [String] = []
    /// `jwks_file`, resolved against the config file's directory; read (and its keys built) at every load.
    public var jwksFile: TLSFileReference?
    /// `jwks_uri` (https only), fetched by the proxy and refreshed every `jwksRefresh`.
    public var jwksURI: String?
    public var jwksRefresh: Duration = .seconds(300)
    /// CA bundle the `jwks_uri` server's certificate is checked against; nil = the system trust store.
    public var jwksCA: TLSFileReference?
    /// Keys from `jwks_file` (empty when the provider only has a `jwks_uri`).
    public var keys: JWTKeySet = JWTKeySet(keys: [])
    /// Where a token is looked for, in order; the first place that has one is used.
    public var from: [JWTTokenSource] = [.authorizationBearer]
    /// Claim name -> upstream header (lower-case). Client copies of these headers are always removed.
    public var forwardClaims: [(claim: String, header: String)] = []
    /// false: a verified token's `authorization` (or metadata) header is not sent upstream.
    public var forwardJWT: Bool = true
    /// Allowed clock difference for `exp` and `nbf`.
    public var clockSkew: Duration = .seconds(30)
    /// Longest token accepted; a longer one is refused (16) before any decoding.
    public var maxTokenSize: Int = 16 * 1024
    /// Verified tokens remembered per worker (0 = verify every call).
    public var cacheSize: Int = 1000

    public init(name: String) { self.name = name }
}

/// Where a token comes from.
public enum JWTTokenSource: Sendable, Equatable {
    /// `authorization: Bearer <token>` (for a WebSocket call: in its metadata message).
    case authorizationBearer
    /// A cookie of the request (for a WebSocket call: of the upgrade request, where browsers put cookies).
    case cookie(String)
    /// A metadata (header) value, lower-case name.
    case metadata(String)
}

/// A route's `jwt: {provider, required}`.
public struct RouteJWT: Sendable {
    public var provider: String
    /// false: a call without a token goes through without claims (a bad token is still refused).
    public var required: Bool

    public init(provider: String, required: Bool = true) {
        self.provider = provider
        self.required = required
    }
}

/// One verification key of a key set.
public struct JWTKey: Sendable {
    public var keyID: String?
    /// The JWK's `alg`, when it names one: the only algorithm this key then verifies.
    public var algorithm: SignatureAlgorithm?
    public var key: SignaturePublicKey

    public init(keyID: String?, algorithm: SignatureAlgorithm?, key: SignaturePublicKey) {
        self.keyID = keyID
        self.algorithm = algorithm
        self.key = key
    }
}

/// The usable keys of a JWKS document (RFC 7517), public keys built.
public struct JWTKeySet: Sendable {
    public var keys: [JWTKey]

    public init(keys: [JWTKey]) { self.keys = keys }
}
