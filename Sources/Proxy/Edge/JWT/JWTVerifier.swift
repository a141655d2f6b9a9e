import Config
import JSON
import TLS

/// Verifies tokens for one provider on one worker: the provider's settings, its current key set (replaced whole
/// when a `jwks_uri` fetch brings a new one) and this worker's cache of verified tokens.
final class JWTVerifier {
    let provider: JWTProviderConfig
    /// nil until a key set has been loaded (only possible for a provider with just a `jwks_uri`).
    var keys: JWTKeySet? {
        // Tokens verified with the old keys are verified again (a key removed from the set must stop working).
        didSet { cache = JWTTokenCache(capacity: provider.cacheSize) }
    }
    private var cache: JWTTokenCache

    init(provider: JWTProviderConfig, keys: JWTKeySet?) {
        self.provider = provider
        self.keys = keys
        self.cache = JWTTokenCache(capacity: provider.cacheSize)
    }

    var cachedTokens: Int { cache.count }

    func verify(_ token: Substring) throws(JWTFailure) -> JWTVerifiedToken {
        let now = JWTTime.now()
        if let hit = cache.lookup(token, now: now) { return hit }
        let verified = try verifyUncached(token, now: now)
        cache.insert(token, verified)
        return verified
    }

    private func verifyUncached(_ token: Substring, now: Double) throws(JWTFailure) -> JWTVerifiedToken {
        guard let keys else {
            throw JWTFailure(.keys_unavailable, "JWKS for provider \(provider.name) not loaded yet")
        }
        let bytes = Array(token.utf8)
        guard bytes.count <= provider.maxTokenSize else {
            throw JWTFailure(.malformed, "JWT malformed: longer than \(provider.maxTokenSize) bytes")
        }
        let parts = bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 3 else {
            throw JWTFailure(.malformed, "JWT malformed: expected 3 dot-separated parts, found \(parts.count)")
        }
        let header = try decodeObject(parts[0], what: "header")
        let algorithm = try algorithm(of: header)
        let key = try key(for: header, algorithm: algorithm, in: keys)
        guard let signature = Base64URL.decode(parts[2]) else {
            throw JWTFailure(.malformed, "JWT malformed: signature is not base64url")
        }
        let signingInput = Array(bytes[..<(parts[0].count + 1 + parts[1].count)])
        guard key.key.verify(algorithm, signingInput: signingInput, signature: signature) else {
            throw JWTFailure(.signature, "JWT signature invalid")
        }
        let payload = try decodeObject(parts[1], what: "payload")
        return try checkClaims(payload, now: now)
    }

    private func decodeObject(_ segment: ArraySlice<UInt8>, what: String) throws(JWTFailure) -> JSONValue {
        guard let json = Base64URL.decode(segment) else {
            throw JWTFailure(.malformed, "JWT malformed: \(what) is not base64url")
        }
        let value: JSONValue
        do {
            value = try JSONParser.parse(json, limits: JSONLimits(maxBytes: provider.maxTokenSize, maxDepth: 16))
        } catch {
            throw JWTFailure(.malformed, "JWT malformed: \(what) is not valid JSON (\(error.message))")
        }
        guard case .object = value else { throw JWTFailure(.malformed, "JWT malformed: \(what) is not a JSON object") }
        return value
    }

    /// The header's `alg`, which must be one we verify: `none` and HMAC are refused by name.
    private func algorithm(of header: JSONValue) throws(JWTFailure) -> SignatureAlgorithm {
        guard let name = header["alg"]?.stringValue else { throw JWTFailure(.malformed, "JWT malformed: header has no \"alg\"") }
        if let algorithm = SignatureAlgorithm(rawValue: name) {
            // RFC 7515 §4.1.11: extensions we do not implement must make the token invalid.
            if header["crit"] != nil { throw JWTFailure(.malformed, "JWT malformed: \"crit\" header parameters not supported") }
            return algorithm
        }
        if name.lowercased() == "none" { throw JWTFailure(.algorithm, "JWT algorithm none refused") }
        if name.hasPrefix("HS") { throw JWTFailure(.algorithm, "JWT algorithm \(printable(name)) refused (HMAC is not accepted with public keys)") }
        throw JWTFailure(.algorithm, "JWT algorithm \(printable(name)) not supported")
    }

    /// The key named by `kid`, or without `kid` the only key that fits the algorithm.
    private func key(for header: JSONValue, algorithm: SignatureAlgorithm, in keys: JWTKeySet) throws(JWTFailure) -> JWTKey {
        let candidate: JWTKey
        if let kid = header["kid"]?.stringValue {
            guard let match = keys.keys.first(where: { $0.keyID == kid }) else {
                throw JWTFailure(.unknown_key, "JWT key id \"\(printable(kid))\" unknown for provider \(provider.name)")
            }
            candidate = match
        } else {
            let fitting = keys.keys.filter { $0.key.type.allowedAlgorithms.contains(algorithm) && ($0.algorithm ?? algorithm) == algorithm }
            guard fitting.count == 1 else {
                throw JWTFailure(.unknown_key, fitting.isEmpty
                    ? "JWT has no key id and provider \(provider.name) has no key for \(algorithm.rawValue)"
                    : "JWT has no key id and provider \(provider.name) has several keys for \(algorithm.rawValue)")
            }
            candidate = fitting[0]
        }
        if let expected = candidate.algorithm, expected != algorithm {
            throw JWTFailure(.algorithm, "JWT algorithm \(algorithm.rawValue) refused: key \"\(candidate.keyID ?? "")\" is for \(expected.rawValue)")
        }
        guard candidate.key.type.allowedAlgorithms.contains(algorithm) else {
            throw JWTFailure(.algorithm, "JWT algorithm \(algorithm.rawValue) refused for the key type of \"\(candidate.keyID ?? "")\"")
        }
        return candidate
    }

    private func checkClaims(_ payload: JSONValue, now: Double) throws(JWTFailure) -> JWTVerifiedToken {
        let skew = Double(provider.clockSkew.components.seconds) + Double(provider.clockSkew.components.attoseconds) / 1e18
        var expiresAt = Double.infinity
        if let exp = payload["exp"] {
            guard let seconds = exp.numberValue?.value else { throw JWTFailure(.malformed, "JWT malformed: \"exp\" is not a number") }
            if now >= seconds + skew { throw JWTFailure(.expired, "JWT expired at \(JWTTime.format(seconds))") }
            expiresAt = seconds + skew
        }
        if let nbf = payload["nbf"] {
            guard let seconds = nbf.numberValue?.value else { throw JWTFailure(.malformed, "JWT malformed: \"nbf\" is not a number") }
            if now + skew < seconds { throw JWTFailure(.not_yet_valid, "JWT not valid before \(JWTTime.format(seconds))") }
        }
        if let issuer = provider.issuer {
            let iss = payload["iss"]?.stringValue
            guard iss == issuer else {
                throw JWTFailure(.issuer, iss.map { "JWT issuer \"\(printable($0))\" not accepted" } ?? "JWT has no issuer (\"iss\")")
            }
        }
        if !provider.audiences.isEmpty {
            var audiences: [String] = []
            switch payload["aud"] {
            case .string(let one)?: audiences = [one]
            case .array(let items)?: audiences = items.compactMap(\.stringValue)
            default: break
            }
            guard audiences.contains(where: provider.audiences.contains) else {
                throw JWTFailure(.audience, audiences.isEmpty ? "JWT has no audience (\"aud\")"
                    : "JWT audience \(audiences.prefix(4).map { "\"\(printable($0))\"" }.joined(separator: ", ")) not accepted")
            }
        }
        guard case .object(let members) = payload else { throw JWTFailure(.malformed, "JWT malformed: payload is not an object") }
        let claims = JWTClaims.flatten(members)
        var edits: [HeaderEdit] = []
        for (claim, header) in provider.forwardClaims {
            if let value = claims[claim], Self.isHeaderValue(value) {
                edits.append(.set(header, value))
            } else {
                edits.append(.remove(header))
            }
        }
        return JWTVerifiedToken(claims: claims, edits: edits, expiresAt: expiresAt)
    }

    /// A claim that cannot be a header value (control characters) is not forwarded.
    static func isHeaderValue(_ text: String) -> Bool {
        text.utf8.count <= 8192 && text.utf8.allSatisfy { $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }
    }

    /// Text from the token, shortened and stripped of controls before it goes into a message.
    private func printable(_ text: String) -> String {
        let cleaned = String(text.unicodeScalars.prefix(64).map { $0.value < 0x20 || $0.value == 0x7F ? "?" : Character($0) })
        return text.unicodeScalars.count > 64 ? cleaned + "…" : cleaned
    }
}
