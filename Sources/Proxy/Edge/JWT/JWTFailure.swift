import GRPCWebCodec

/// Why a token was refused: the `reason` label (a fixed word) and the message the client reads.
struct JWTFailure: Error {
    enum Reason: String {
        case missing, malformed, expired, not_yet_valid, issuer, audience, unknown_key, algorithm, signature
        /// No key set has been loaded yet for a provider with only a `jwks_uri`.
        case keys_unavailable
    }

    var reason: Reason
    var message: String

    init(_ reason: Reason, _ message: String) {
        self.reason = reason
        self.message = message
    }

    var rejection: EdgeRejection {
        EdgeRejection(code: .unauthenticated, message: message, stage: "jwt", reason: reason.rawValue)
    }
}
