public import Config
public import HTTP1Codec

/// CORS for browsers calling from another origin: preflights are answered by the proxy itself and never reach a
/// gRPC server; every actual response (errors included) carries the allow/expose headers, so a failed call
/// still shows its grpc-status to the page instead of an opaque CORS failure.
public enum CORSResponder {
    /// Request headers every gRPC-Web client sends (PROTOCOLS.md §1.5); always allowed.
    static let grpcWebRequestHeaders = ["content-type", "x-grpc-web", "x-user-agent", "grpc-timeout"]
    /// Response headers the JS clients must be able to read.
    static let grpcWebExposedHeaders = ["grpc-status", "grpc-message"]
    /// The expose list when no extra headers are configured (the common case), built once.
    static let defaultExposeValue = grpcWebExposedHeaders.joined(separator: ", ")

    public enum PreflightResult {
        case allowed([(String, String)])
        case rejected(String)
    }

    public static func isPreflight(_ head: HTTPRequestHead) -> Bool {
        head.method == "OPTIONS" && head.headers["origin"] != nil && head.headers["access-control-request-method"] != nil
    }

    /// The answer to a preflight (sent with status 204 when allowed).
    public static func preflight(_ head: HTTPRequestHead, policy: CORSPolicy?) -> PreflightResult {
        guard let policy, let origin = head.headers["origin"] else { return .rejected("CORS is not enabled on this listener") }
        guard policy.allows(origin: origin) else { return .rejected("origin \(origin) is not allowed") }
        let method = head.headers["access-control-request-method"] ?? ""
        guard method == "POST" || method == "GET" else { return .rejected("method \(method) is not allowed (POST only)") }
        var allowHeaders: String
        if policy.allowHeaders.contains("*") {
            // "*" echoes whatever the page asks for: custom metadata keys then never break preflight.
            allowHeaders = head.headers["access-control-request-headers"] ?? grpcWebRequestHeaders.joined(separator: ", ")
        } else {
            allowHeaders = (grpcWebRequestHeaders + policy.allowHeaders.map { $0.lowercased() }).joined(separator: ", ")
        }
        if allowHeaders.isEmpty { allowHeaders = grpcWebRequestHeaders.joined(separator: ", ") }
        var h: [(String, String)] = [
            ("Access-Control-Allow-Origin", origin),
            ("Access-Control-Allow-Methods", "POST, OPTIONS"),
            ("Access-Control-Allow-Headers", allowHeaders),
            ("Access-Control-Max-Age", String(policy.maxAge.components.seconds)),
            ("Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"),
        ]
        if policy.sendsCredentials { h.append(("Access-Control-Allow-Credentials", "true")) }
        return .allowed(h)
    }

    /// Whether `origin` is the request's own (`Origin` ends with `://<Host>`): a page calling its own server, which
    /// no CORS check concerns (used where the proxy stands in for a browser's check: WebSocket, `$httpHeaders`).
    static func isSameOrigin(_ origin: String, host: String?) -> Bool {
        guard let host else { return false }
        return origin.hasSuffix("://" + host)
    }

    /// Where `responseHeaders` puts `Access-Control-Expose-Headers`, so a call can replace its value without a search.
    static let exposeHeadersIndex = 1

    /// `expose_headers: auto`: sets the expose field of the CORS fields appended at `corsStart` of a response head
    /// to the names of the fields before them (from index 1: index 0 is Content-Type, which a page may always
    /// read), each once; removes it when there are none. Called once per response head of a cross-origin call: one
    /// string built, duplicates found by scanning the few fields before (no Set per call).
    static func exposeSentFields(in h: inout [(String, String)], corsStart: Int) {
        var value = ""
        // The scan is quadratic: past a few dozen fields (only an odd upstream sends that many) repeated names stay
        // in the list, which browsers accept (the header is a list of names, read as a set).
        let dedupe = corsStart <= maxDedupedFields
        var i = 1
        while i < corsStart {
            let name = h[i].0
            var seen = false
            var j = 1
            while dedupe && j < i {
                if sameName(h[j].0, name) { seen = true; break }
                j += 1
            }
            if !seen {
                if !value.isEmpty { value += ", " }
                value += name
            }
            i += 1
        }
        let index = corsStart + exposeHeadersIndex
        if value.isEmpty {
            h.remove(at: index)
        } else {
            h[index].1 = value
        }
    }

    static let maxDedupedFields = 64

    private static func sameName(_ a: String, _ b: String) -> Bool {
        a.utf8.count == b.utf8.count && zip(a.utf8, b.utf8).allSatisfy { x, y in
            x == y || (x | 0x20 == y | 0x20 && (x | 0x20) >= 0x61 && (x | 0x20) <= 0x7A)
        }
    }

    /// Headers added to every actual response for `origin` (empty when not allowed or no CORS configured). The
    /// expose field is the static list (`grpc-status, grpc-message` plus `expose_headers`); with
    /// `expose_headers: auto` a call replaces it with the fields it sends (`exposeSentFields`), and answers built
    /// elsewhere (local replies, plain errors) keep the status fields readable.
    public static func responseHeaders(origin: String?, policy: CORSPolicy?) -> [(String, String)] {
        guard let policy, let origin, policy.allows(origin: origin) else { return [] }
        var h: [(String, String)] = [
            ("Access-Control-Allow-Origin", origin),
            ("Access-Control-Expose-Headers", policy.exposeHeaders.isEmpty
                ? defaultExposeValue
                : (grpcWebExposedHeaders + policy.exposeHeaders.map { $0.lowercased() }).joined(separator: ", ")),
            ("Vary", "Origin"),
        ]
        if policy.sendsCredentials { h.append(("Access-Control-Allow-Credentials", "true")) }
        return h
    }
}
