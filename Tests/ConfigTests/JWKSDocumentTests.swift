@testable import Config
import TLS
import XCTest

/// Which JWKS members make a usable key, which are skipped and which refuse the whole document.
final class JWKSDocumentTests: XCTestCase {
    /// An Ed25519 public key is any 32 bytes to OpenSSL: enough to build keys without a key generator.
    let x = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"

    func parse(_ keys: String) throws(SignatureKeyError) -> JWTKeySet {
        try JWKSDocument.parse(Array("{\"keys\": [\(keys)]}".utf8))
    }

    func refusal(_ keys: String) -> String {
        do throws(SignatureKeyError) {
            _ = try parse(keys)
            return "accepted"
        } catch {
            return error.message
        }
    }

    func testUsableKeysAndSkippedOnes() throws {
        let set = try parse("""
            {"kty": "OKP", "crv": "Ed25519", "kid": "a", "x": "\(x)"},
            {"kty": "OKP", "crv": "Ed25519", "kid": "b", "alg": "EdDSA", "use": "sig", "x": "\(x)"},
            {"kty": "oct", "kid": "c", "k": "c2VjcmV0"},
            {"kty": "OKP", "crv": "X25519", "kid": "d", "x": "\(x)"},
            {"kty": "OKP", "crv": "Ed25519", "kid": "e", "use": "enc", "x": "\(x)"},
            {"kty": "EC", "crv": "P-521", "kid": "f", "x": "AA", "y": "AA"},
            {"kty": "OKP", "crv": "Ed25519", "kid": "g", "alg": "RSA-OAEP", "x": "\(x)"}
            """)
        XCTAssertEqual(set.keys.map(\.keyID), ["a", "b"])
        XCTAssertNil(set.keys[0].algorithm)
        XCTAssertEqual(set.keys[1].algorithm, .edDSA)
    }

    func testRefusals() {
        XCTAssertEqual(refusal(#"{"kty": "oct", "k": "c2VjcmV0"}"#),
                       "JWKS has no usable signature key (RSA, EC P-256/P-384 or Ed25519)")
        XCTAssertEqual(refusal(#"{"crv": "Ed25519", "x": "\#(x)"}"#), "keys[0]: missing \"kty\"")
        XCTAssertEqual(refusal(#"{"kty": "OKP", "crv": "Ed25519", "x": "\#(x)", "alg": "HS256"}"#),
                       "keys[0]: algorithm \"HS256\" is refused")
        XCTAssertEqual(refusal(#"{"kty": "OKP", "crv": "Ed25519", "x": "\#(x)", "alg": "ES256"}"#),
                       "keys[0]: algorithm ES256 does not fit this OKP key")
        XCTAssertEqual(refusal(#"{"kty": "OKP", "crv": "Ed25519", "x": "\#(x)=="}"#), "keys[0]: \"x\" is not base64url")
        XCTAssertEqual(refusal(#"{"kty": "OKP", "crv": "Ed25519", "kid": "a", "x": "\#(x)"}, {"kty": "OKP", "crv": "Ed25519", "kid": "a", "x": "\#(x)"}"#),
                       "keys[1]: kid \"a\" appears twice")
        XCTAssertEqual(refusal(#"{"kty": "OKP", "crv": "Ed25519", "x": "\#(x)", "d": "\#(x)"}"#),
                       "keys[0]: contains a private key (\"d\"): publish only public keys")
        XCTAssertEqual(refusal("7"), "keys[0] is not an object")
        do throws(SignatureKeyError) {
            _ = try JWKSDocument.parse(Array(#"{"key": []}"#.utf8))
            XCTFail()
        } catch {
            XCTAssertEqual(error.message, "JWKS must be an object with a \"keys\" array")
        }
        let many = (0...JWKSDocument.maxKeys).map { #"{"kty": "OKP", "crv": "Ed25519", "kid": "k\#($0)", "x": "\#(x)"}"# }
        XCTAssertEqual(refusal(many.joined(separator: ",")), "more than \(JWKSDocument.maxKeys) usable keys")
    }
}
