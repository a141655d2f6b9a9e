import GRPCWebCodec

/// One kind of edge rule (JWT verification, rate limits, header rules). A worker holds one instance of each,
/// so a stage's state (token buckets, a verified-token cache) needs no lock. Stages run in `EdgePolicy`'s order;
/// each may add to the call's grant (edits, claims, a release) or refuse the call.
protocol EdgeStage: AnyObject {
    /// Returns nil to let the call through, or why it is refused. A stage that refuses has added no release to
    /// `grant` (earlier stages' releases run when the call is refused).
    func evaluate(_ request: EdgeCallRequest, grant: inout EdgeCallGrant) -> EdgeRejection?
}

/// A call the edge refused: ended with this status and message (and extra metadata, e.g. a retry delay),
/// before anything was sent upstream.
struct EdgeRejection: Error {
    var code: GRPCStatusCode
    var message: String
    /// Added to the status fields of the trailers-only answer.
    var metadata: [(String, String)] = []
    /// The `stage` and `reason` labels of `grpcwebproxy_rejected_calls_total` (e.g. "jwt" / "expired",
    /// "rate_limit" / "tokens"): short fixed words from the code, never text from the request.
    var stage: String
    var reason: String
}
