/// How a gRPC-Web body is carried over HTTP: raw length-prefixed frames, or the same bytes base64-encoded
/// (the `-text` content types, used by browsers that cannot read binary XHR responses incrementally).
public enum GRPCWebEncoding: Sendable, Equatable {
    case binary
    case text
}
