import Config

/// The edge rules of one worker: every call, whatever its transport, passes here once its route and metadata are
/// known and before its upstream stream starts. Built from the config at start and at each reload.
final class EdgePolicy {
    /// In order: who is calling (JWT) comes before how often (rate limits, which may key on a claim), which comes
    /// before header rules (which may use claims).
    private let stages: [any EdgeStage]
    /// The worker's labelled metrics: refusals are counted by stage and reason.
    private let metrics: MetricsRecorder
    /// Also in `stages`; kept to hand it key sets fetched from `jwks_uri`s.
    private let jwt: JWTStage?

    init(config: ProxyConfig, metrics: MetricsRecorder) {
        self.metrics = metrics
        // Each stage is added when the config has rules of its kind (in the order above).
        var stages: [any EdgeStage] = []
        jwt = JWTStage(config: config, snapshots: .shared)
        if let jwt { stages.append(jwt) }
        if RateLimitStage.isNeeded(config) { stages.append(RateLimitStage(config: config)) }
        if HeaderRulesStage.isNeeded(config) { stages.append(HeaderRulesStage()) }
        self.stages = stages
    }

    /// A key set fetched from a provider's `jwks_uri` (on this worker's loop).
    func replaceJWTKeys(_ keys: JWTKeySet, provider: String, uri: String) {
        jwt?.replaceKeys(keys, provider: provider, uri: uri)
    }

    /// Fills the call's (empty) `grant`, or returns why the call is refused (whatever was granted before the
    /// refusal is released).
    func admit(_ request: EdgeCallRequest, grant: inout EdgeCallGrant) -> EdgeRejection? {
        for stage in stages {
            if let rejection = stage.evaluate(request, grant: &grant) {
                grant.finish()
                metrics.rejected(listener: request.listenerName, route: request.route.name, stage: rejection.stage, reason: rejection.reason)
                return rejection
            }
        }
        return nil
    }
}
