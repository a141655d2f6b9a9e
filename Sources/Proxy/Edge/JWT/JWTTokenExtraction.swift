import Config

/// Finds a call's token in the places a provider names, in order.
enum JWTTokenExtraction {
    /// The first token found and where; nil when none of the places has one.
    static func token(in request: EdgeCallRequest, from sources: [JWTTokenSource]) -> (token: Substring, source: JWTTokenSource)? {
        for source in sources {
            switch source {
            case .authorizationBearer:
                if let value = request.metadata("authorization"), let token = bearerToken(value) { return (token, source) }
            case .cookie(let name):
                // Browsers send cookies with the HTTP request (the WebSocket upgrade for a WebSocket call).
                for header in request.head.headers.values("cookie") {
                    if let token = cookie(name, in: header) { return (token, source) }
                }
            case .metadata(let name):
                if let value = request.metadata(name), !value.isEmpty { return (Substring(value), source) }
            }
        }
        return nil
    }

    /// `Bearer <token>` (scheme case-insensitive, RFC 9110 §11.1); nil for another scheme or an empty token.
    static func bearerToken(_ value: String) -> Substring? {
        let utf8 = value.utf8
        guard utf8.count > 7 else { return nil }
        let scheme = value.prefix(7)
        guard scheme.lowercased() == "bearer " else { return nil }
        let token = value.dropFirst(7).drop { $0 == " " }
        return token.isEmpty ? nil : token
    }

    /// The value of cookie `name` in one `Cookie:` header (`a=1; session=xyz`).
    static func cookie(_ name: String, in header: String) -> Substring? {
        for pair in header.split(separator: ";") {
            let trimmed = pair.drop { $0 == " " }
            guard let equals = trimmed.firstIndex(of: "=") else { continue }
            if trimmed[..<equals] == name {
                var value = trimmed[trimmed.index(after: equals)...]
                while value.last == " " { value = value.dropLast() }
                // RFC 6265 allows a quoted cookie value.
                if value.count >= 2, value.first == "\"", value.last == "\"" { value = value.dropFirst().dropLast() }
                return value.isEmpty ? nil : value
            }
        }
        return nil
    }
}
