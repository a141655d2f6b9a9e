/// The JWS algorithms the proxy verifies (RFC 7518 §3, RFC 8037). HMAC (`HS*`) and `none` are deliberately absent:
/// a verifier holding only public keys must never accept a MAC keyed with public bytes, nor an unsigned token.
public enum SignatureAlgorithm: String, Sendable, CaseIterable {
    case rs256 = "RS256", rs384 = "RS384", rs512 = "RS512"
    case ps256 = "PS256"
    case es256 = "ES256", es384 = "ES384"
    case edDSA = "EdDSA"
}

/// The kinds of public key a JWK can describe, and which algorithms each may verify.
public enum SignatureKeyType: Sendable, Equatable {
    case rsa
    case ecP256
    case ecP384
    case ed25519

    public var allowedAlgorithms: [SignatureAlgorithm] {
        switch self {
        case .rsa: return [.rs256, .rs384, .rs512, .ps256]
        case .ecP256: return [.es256]
        case .ecP384: return [.es384]
        case .ed25519: return [.edDSA]
        }
    }
}

/// Why a public key could not be built (the JWKS is refused with this message).
public struct SignatureKeyError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
