/// How the body of a request is delimited (RFC 9112 §6.3).
public enum HTTPBodyKind: Sendable, Equatable {
    /// No Content-Length and no Transfer-Encoding: the request has no body.
    case none
    /// A body of exactly this many bytes (may be 0).
    case contentLength(Int)
    /// `Transfer-Encoding: chunked`; the parser hands out the de-chunked bytes.
    case chunked
}
