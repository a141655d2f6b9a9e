import Config

/// Header rules (per cluster, then per route) and the `x-forwarded-for` / `x-forwarded-proto` default. Never
/// refuses a call: it only adds edits to the grant. Runs last, so claims (JWT) are known to `%CLAIM(name)%`.
final class HeaderRulesStage: EdgeStage {
    func evaluate(_ request: EdgeCallRequest, grant: inout EdgeCallGrant) -> EdgeRejection? {
        if request.route.forwardedHeaders.enabled { ForwardedFor.addEdits(request, to: &grant) }
        guard !request.route.headerRules.isEmpty else { return nil }
        let claims = grant.claims
        for rules in request.route.headerRules {
            rules.request.appendEdits(to: &grant.upstreamEdits, request, claims: claims)
            rules.responseHeaders.appendEdits(to: &grant.responseHeaderEdits, request, claims: claims)
            rules.responseTrailers.appendEdits(to: &grant.responseTrailerEdits, request, claims: claims)
        }
        return nil
    }

    /// Needed when some route has rules or forwards `x-forwarded-*` (the default).
    static func isNeeded(_ config: ProxyConfig) -> Bool {
        config.listeners.contains { listener in
            listener.routes.contains { $0.forwardedHeaders.enabled || !$0.headerRules.isEmpty }
        }
    }
}
