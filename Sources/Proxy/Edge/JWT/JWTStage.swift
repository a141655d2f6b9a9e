import Config

/// The JWT edge stage: for a route with `jwt:`, finds the token, verifies it with the route's provider and puts
/// the claims and forwarded-claim headers in the grant. Client-supplied copies of forwarded-claim headers are
/// removed on every call of such a route, anonymous ones included, so the upstream can trust them.
final class JWTStage: EdgeStage {
    private let verifiers: [String: JWTVerifier]
    /// For anonymous calls: `.remove` of every forwarded-claim header, built once per provider.
    private let anonymousEdits: [String: [HeaderEdit]]

    /// nil when no route checks tokens (the stage is then not added at all).
    init?(config: ProxyConfig, fetchedKeys: [String: JWTKeySet] = [:]) {
        let used = Set(config.listeners.flatMap(\.routes).compactMap(\.jwt?.provider))
        if used.isEmpty { return nil }
        var verifiers: [String: JWTVerifier] = [:]
        var anonymous: [String: [HeaderEdit]] = [:]
        for provider in config.jwtProviders where used.contains(provider.name) {
            let keys = provider.jwksFile != nil ? provider.keys : fetchedKeys[provider.name]
            verifiers[provider.name] = JWTVerifier(provider: provider, keys: keys)
            anonymous[provider.name] = provider.forwardClaims.map { .remove($0.header) }
        }
        self.verifiers = verifiers
        self.anonymousEdits = anonymous
    }

    func evaluate(_ request: EdgeCallRequest, grant: inout EdgeCallGrant) -> EdgeRejection? {
        guard let rule = request.route.jwt, let verifier = verifiers[rule.provider] else { return nil }
        guard let token = JWTTokenExtraction.token(in: request, from: verifier.provider.from) else {
            if rule.required { return JWTFailure(.missing, "missing JWT").rejection }
            grant.upstreamEdits.append(contentsOf: anonymousEdits[rule.provider] ?? [])
            return nil
        }
        do {
            let verified = try verifier.verify(token)
            grant.claims = verified.claims
            grant.upstreamEdits.append(contentsOf: verified.edits)
            return nil
        } catch {
            return error.rejection
        }
    }

    /// A new key set for a provider fetched from its `jwks_uri` (on this worker's loop).
    func replaceKeys(_ keys: JWTKeySet, provider: String) {
        verifiers[provider]?.keys = keys
    }
}
