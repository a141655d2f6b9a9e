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
        // No key set yet is the proxy's state, not the caller's fault: 14, which clients may retry.
        EdgeRejection(code: reason == .keys_unavailable ? .unavailable : .unauthenticated, message: message,
                      stage: "jwt", reason: reason.rawValue)
    }
}
