internal import COpenSSL

extension SignaturePublicKey {
    /// Whether `signature` is a valid signature of `signingInput` by this key under `algorithm`. False for an
    /// algorithm this key type does not allow (callers check that first to say so), a malformed signature, or a
    /// wrong one. ES256/ES384 signatures arrive in JOSE form (r || s, fixed size) and are turned into the DER
    /// form OpenSSL verifies.
    public func verify(_ algorithm: SignatureAlgorithm, signingInput: [UInt8], signature: [UInt8]) -> Bool {
        guard type.allowedAlgorithms.contains(algorithm) else { return false }
        var signatureBytes = signature
        switch algorithm {
        case .es256, .es384:
            let half = algorithm == .es256 ? 32 : 48
            guard signature.count == 2 * half else { return false }
            signatureBytes = ECDSASignatureDER.encode(r: signature[..<half], s: signature[half...])
        case .edDSA:
            guard signature.count == 64 else { return false }
        default:
            break
        }
        let digest: OpaquePointer?
        switch algorithm {
        case .rs256, .ps256, .es256: digest = EVP_sha256()
        case .rs384, .es384: digest = EVP_sha384()
        case .rs512: digest = EVP_sha512()
        case .edDSA: digest = nil  // Ed25519 hashes internally; the one-shot API is required.
        }
        ERR_clear_error()
        guard let context = EVP_MD_CTX_new() else { return false }
        defer { EVP_MD_CTX_free(context) }
        var keyContext: OpaquePointer?
        guard EVP_DigestVerifyInit(context, &keyContext, digest, nil, key) == 1 else {
            ERR_clear_error()
            return false
        }
        if algorithm == .ps256 {
            // RFC 7518 §3.5: MGF1 with the same hash, salt as long as the hash.
            guard EVP_PKEY_CTX_set_rsa_padding(keyContext, RSA_PKCS1_PSS_PADDING) == 1,
                  EVP_PKEY_CTX_set_rsa_pss_saltlen(keyContext, RSA_PSS_SALTLEN_DIGEST) == 1 else {
                ERR_clear_error()
                return false
            }
        }
        let result = signatureBytes.withUnsafeBufferPointer { sig in
            signingInput.withUnsafeBufferPointer { input in
                EVP_DigestVerify(context, sig.baseAddress, sig.count, input.baseAddress, input.count)
            }
        }
        // A bad signature leaves reasons on this thread's queue; the next TLS call must not read them.
        ERR_clear_error()
        return result == 1
    }
}

/// ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER } (RFC 3279), from JOSE's fixed-size r and s.
enum ECDSASignatureDER {
    static func encode(r: ArraySlice<UInt8>, s: ArraySlice<UInt8>) -> [UInt8] {
        let body = integer(r) + integer(s)
        return [0x30] + length(body.count) + body
    }

    /// Minimal big-endian form, with a 0x00 in front when the top bit is set (DER integers are signed).
    private static func integer(_ value: ArraySlice<UInt8>) -> [UInt8] {
        var digits = Array(value.drop { $0 == 0 })
        if digits.isEmpty { digits = [0] }
        if digits[0] & 0x80 != 0 { digits.insert(0, at: 0) }
        return [0x02] + length(digits.count) + digits
    }

    private static func length(_ count: Int) -> [UInt8] {
        count < 0x80 ? [UInt8(count)] : [0x81, UInt8(count)]
    }
}
