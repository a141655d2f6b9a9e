import JSON

/// A verified token's payload flattened to strings for the grant (`claims`), forwarded headers, rate-limit keys
/// and header variables: strings as they are, numbers as written, booleans as `true`/`false`, arrays of scalars
/// joined with `,`, nested objects by dotted path (`realm_access.roles`).
enum JWTClaims {
    /// Bounds the work a hostile payload (verified, but from a careless issuer) can cause.
    static let maxClaims = 256

    static func flatten(_ payload: [(String, JSONValue)]) -> [String: String] {
        var claims: [String: String] = [:]
        add(payload, prefix: "", into: &claims)
        return claims
    }

    private static func add(_ members: [(String, JSONValue)], prefix: String, into claims: inout [String: String]) {
        for (name, value) in members where claims.count < maxClaims {
            let key = prefix + name
            switch value {
            case .object(let nested): add(nested, prefix: key + ".", into: &claims)
            case .array(let items):
                let texts = items.compactMap(scalarText)
                if texts.count == items.count { claims[key] = texts.joined(separator: ",") }
            default:
                if let text = scalarText(value) { claims[key] = text }
            }
        }
    }

    private static func scalarText(_ value: JSONValue) -> String? {
        switch value {
        case .string(let text): return text
        case .number(let number): return number.text
        case .bool(let flag): return flag ? "true" : "false"
        default: return nil
        }
    }
}
