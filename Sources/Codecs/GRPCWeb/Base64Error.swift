/// Invalid base64 in a gRPC-Web text body. The proxy answers such requests like Envoy does (the body cannot be
/// turned into gRPC frames); `message` says what was wrong and where, for the access log.
public struct Base64Error: Error, Sendable, Equatable {
    public var message: String
    public init(message: String) { self.message = message }
}
