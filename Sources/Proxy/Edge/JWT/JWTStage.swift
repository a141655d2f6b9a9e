import Config

/// The JWT edge stage: for a route with `jwt:`, finds the token, verifies it with the route's provider and puts
/// the claims and forwarded-claim headers in the grant. Client-supplied copies of forwarded-claim headers are
/// removed on every call of such a route, anonymous ones included, so the upstream can trust them.
final class JWTStage: EdgeStage {
    private let verifiers: [String: JWTVerifier]
    /// For anonymous calls: `.remove` of every forwarded-claim header, built once per provider.
    private let anonymousEdits: [String: [HeaderEdit]]

    /// nil when no route checks tokens (the stage is then not added at all). `snapshots`: key sets fetched from
    /// `jwks_uri`s so far.
    init?(config: ProxyConfig, snapshots: JWKSSnapshots) {
        let used = Set(config.listeners.flatMap(\.routes).compactMap(\.jwt?.provider))
        if used.isEmpty { return nil }
        var verifiers: [String: JWTVerifier] = [:]
        var anonymous: [String: [HeaderEdit]] = [:]
        for provider in config.jwtProviders where used.contains(provider.name) {
            let fetched = provider.jwksURI.flatMap { snapshots.current(provider: provider.name, uri: $0) }
            verifiers[provider.name] = JWTVerifier(provider: provider, keys: Self.merged(provider, fetched: fetched))
            anonymous[provider.name] = provider.forwardClaims.map { .remove($0.header) }
        }
        self.verifiers = verifiers
        self.anonymousEdits = anonymous
    }

    func evaluate(_ request: EdgeCallRequest, grant: inout EdgeCallGrant) -> EdgeRejection? {
        guard let rule = request.route.jwt, let verifier = verifiers[rule.provider] else { return nil }
        guard let (token, source) = JWTTokenExtraction.token(in: request, from: verifier.provider.from) else {
            if rule.required { return JWTFailure(.missing, "missing JWT").rejection }
            Self.add(anonymousEdits[rule.provider] ?? [], to: &grant)
            return nil
        }
        do {
            let verified = try verifier.verify(token)
            grant.claims = verified.claims
            Self.add(verified.edits, to: &grant)
            if !verifier.provider.forwardJWT {
                // The header that carried it (a cookie stays: it may hold more than the token).
                switch source {
                case .authorizationBearer: grant.upstreamEdits.append(.remove("authorization"))
                case .metadata(let name): grant.upstreamEdits.append(.remove(name))
                case .cookie: break
                }
            }
            return nil
        } catch {
            return error.rejection
        }
    }

    /// JWT runs first, so the grant's edits are usually empty: share the cached array (no copy per call).
    private static func add(_ edits: [HeaderEdit], to grant: inout EdgeCallGrant) {
        if grant.upstreamEdits.isEmpty {
            grant.upstreamEdits = edits
        } else {
            grant.upstreamEdits.append(contentsOf: edits)
        }
    }

    /// A new key set fetched from a provider's `jwks_uri` (on this worker's loop). Ignored when this worker's
    /// config (reloaded meanwhile) names another URI.
    func replaceKeys(_ keys: JWTKeySet, provider: String, uri: String) {
        guard let verifier = verifiers[provider], verifier.provider.jwksURI == uri else { return }
        verifier.keys = Self.merged(verifier.provider, fetched: keys)
    }

    /// The keys of `jwks_file` and those fetched from `jwks_uri` together (file first); nil while a provider
    /// with only a URI has fetched nothing yet.
    static func merged(_ provider: JWTProviderConfig, fetched: JWTKeySet?) -> JWTKeySet? {
        guard let fetched else { return provider.jwksFile != nil ? provider.keys : nil }
        if provider.jwksFile == nil { return fetched }
        let fileIDs = Set(provider.keys.keys.compactMap(\.keyID))
        return JWTKeySet(keys: provider.keys.keys + fetched.keys.filter { $0.keyID.map { !fileIDs.contains($0) } ?? true })
    }
}
