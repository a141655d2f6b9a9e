internal import JSON
public import TLS

/// Reads a JWKS document into a key set: the same rules for a `jwks_file` and for a body fetched from a
/// `jwks_uri`. Keys of kinds the proxy does not verify with (`oct`, other curves) or meant for encryption
/// (`use: enc`) are skipped; a document with no usable key, a key with a private part, or a malformed key is
/// refused with what is wrong.
public enum JWKSDocument {
    /// Largest JWKS accepted (real ones are a few KiB).
    public static let maxBytes = 1 << 20
    /// Most keys kept from one document.
    public static let maxKeys = 100

    public static func parse(_ bytes: [UInt8]) throws(SignatureKeyError) -> JWTKeySet {
        let document: JSONValue
        do {
            document = try JSONParser.parse(bytes, limits: JSONLimits(maxBytes: maxBytes, maxDepth: 8))
        } catch {
            throw SignatureKeyError("JWKS is not valid JSON: \(error)")
        }
        guard case .array(let entries)? = document["keys"] else {
            throw SignatureKeyError("JWKS must be an object with a \"keys\" array")
        }
        var keys: [JWTKey] = []
        var seenIDs = Set<String>()
        for (index, entry) in entries.enumerated() {
            guard case .object = entry else { throw SignatureKeyError("keys[\(index)] is not an object") }
            do throws(SignatureKeyError) {
                guard let key = try parseKey(entry) else { continue }
                if let id = key.keyID, !seenIDs.insert(id).inserted { throw SignatureKeyError("kid \"\(id)\" appears twice") }
                keys.append(key)
            } catch {
                throw SignatureKeyError("keys[\(index)]: \(error.message)")
            }
            if keys.count > maxKeys { throw SignatureKeyError("more than \(maxKeys) usable keys") }
        }
        if keys.isEmpty { throw SignatureKeyError("JWKS has no usable signature key (RSA, EC P-256/P-384 or Ed25519)") }
        return JWTKeySet(keys: keys)
    }

    /// nil for a key that is not for us (skipped); throws for a key that is for us but broken.
    static func parseKey(_ jwk: JSONValue) throws(SignatureKeyError) -> JWTKey? {
        if let use = jwk["use"]?.stringValue, use != "sig" { return nil }
        guard let kty = jwk["kty"]?.stringValue else { throw SignatureKeyError("missing \"kty\"") }
        if jwk["d"] != nil { throw SignatureKeyError("contains a private key (\"d\"): publish only public keys") }
        let keyID = jwk["kid"]?.stringValue
        var algorithm: SignatureAlgorithm?
        if let alg = jwk["alg"]?.stringValue {
            guard let known = SignatureAlgorithm(rawValue: alg) else {
                if alg == "none" || alg.hasPrefix("HS") { throw SignatureKeyError("algorithm \"\(alg)\" is refused") }
                return nil
            }
            algorithm = known
        }
        let key: SignaturePublicKey
        switch kty {
        case "RSA":
            key = try SignaturePublicKey(rsaModulus: try member(jwk, "n"), exponent: try member(jwk, "e"))
        case "EC":
            let curve: SignatureKeyType
            switch jwk["crv"]?.stringValue {
            case "P-256": curve = .ecP256
            case "P-384": curve = .ecP384
            default: return nil
            }
            key = try SignaturePublicKey(curve: curve, x: try member(jwk, "x"), y: try member(jwk, "y"))
        case "OKP":
            guard jwk["crv"]?.stringValue == "Ed25519" else { return nil }
            key = try SignaturePublicKey(ed25519: try member(jwk, "x"))
        default:
            return nil
        }
        if let algorithm, !key.type.allowedAlgorithms.contains(algorithm) {
            throw SignatureKeyError("algorithm \(algorithm.rawValue) does not fit this \(kty) key")
        }
        return JWTKey(keyID: keyID, algorithm: algorithm, key: key)
    }

    private static func member(_ jwk: JSONValue, _ name: String) throws(SignatureKeyError) -> [UInt8] {
        guard let text = jwk[name]?.stringValue else { throw SignatureKeyError("missing \"\(name)\"") }
        guard let bytes = Base64URL.decode(text), !bytes.isEmpty else {
            throw SignatureKeyError("\"\(name)\" is not base64url")
        }
        return bytes
    }
}
