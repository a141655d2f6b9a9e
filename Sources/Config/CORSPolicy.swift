/// Which browser origins may call through the proxy, and what the CORS response headers say.
/// The gRPC-Web request and response headers are always allowed / exposed; the lists here are
/// extras.
public struct CORSPolicy: Sendable {
    /// `"*"`, exact origins (`https://app.example.com`, `http://localhost:3000`), wildcard
    /// patterns whose first host label is `*` (`https://*.example.com`), or `"null"` (matched only
    /// literally: `"*"` never allows the opaque origin).
    public var allowOrigins: [String]
    /// Request headers allowed beyond the gRPC-Web set (lower-case).
    public var allowHeaders: [String]
    /// Response headers exposed beyond `grpc-status` and `grpc-message` (lower-case); used when
    /// `exposeSentHeaders` is false.
    public var exposeHeaders: [String]
    /// `expose_headers: auto` (the config default): each response's `Access-Control-Expose-Headers` names the
    /// fields that response actually carries (custom metadata, and grpc-status / grpc-message on trailers-only
    /// answers), so pages read metadata nobody listed. False: the static list (`grpc-status, grpc-message` plus
    /// `exposeHeaders`).
    public var exposeSentHeaders: Bool
    /// Calls may carry their gRPC headers in the `$httpHeaders` query parameter as a CORS simple request (no
    /// preflight), from origins this policy allows and with headers it allows (`allow_http_headers_param`).
    public var allowHTTPHeadersParam: Bool
    /// How long browsers may cache a preflight answer.
    public var maxAge: Duration
    /// Whether to send `access-control-allow-credentials: true` (the origin is echoed, never `*`).
    public var allowCredentials: Bool

    public init(
        allowOrigins: [String] = [], allowHeaders: [String] = [], exposeHeaders: [String] = [],
        maxAge: Duration = .seconds(24 * 3600), allowCredentials: Bool = false,
        exposeSentHeaders: Bool = false, allowHTTPHeadersParam: Bool = true
    ) {
        self.allowOrigins = allowOrigins
        self.allowHeaders = allowHeaders
        self.exposeHeaders = exposeHeaders
        self.exposeSentHeaders = exposeSentHeaders
        self.allowHTTPHeadersParam = allowHTTPHeadersParam
        self.maxAge = maxAge
        self.allowCredentials = allowCredentials
    }

    /// Whether a request's `Origin` header value is allowed. Scheme and host compare
    /// case-insensitively, ports exactly. `https://*.example.com` matches any origin whose host
    /// ends in `.example.com` with at least one label before it (so not `https://example.com`),
    /// with the same scheme and port. Does not allocate: it runs on every request.
    public func allows(origin: String) -> Bool {
        guard let parsedOrigin = OriginParts(origin.utf8[...]) else {
            // Not scheme://host[:port]. "null" is what sandboxed iframes, file: pages and some redirects send, so
            // any page can produce it: it is allowed only when listed literally, never by "*".
            return origin == CORSPolicy.nullOrigin && allowOrigins.contains(CORSPolicy.nullOrigin)
        }
        for pattern in allowOrigins {
            if pattern == "*" { return true }
            guard let parsedPattern = OriginParts(pattern.utf8[...]) else { continue }
            if parsedPattern.matches(parsedOrigin) { return true }
        }
        return false
    }

    /// The policy a `cors:` block starts from before its keys are applied: as `init()`, except that the expose list
    /// is computed per response unless `expose_headers` gives one.
    public static let configDefault = CORSPolicy(exposeSentHeaders: true)

    /// Whether a request header may be sent by a page on an allowed origin: the gRPC-Web set, the CORS-safelisted
    /// names, or `allow_headers` (`"*"` allows any). What a preflight answer would have allowed, for calls that
    /// skip the preflight (`$httpHeaders`).
    public func allowsRequestHeader(_ name: String) -> Bool {
        switch name.lowercased() {
        case "content-type", "x-grpc-web", "x-user-agent", "grpc-timeout", "accept", "accept-language", "content-language":
            return true
        case let lower:
            return allowHeaders.contains { $0 == "*" || $0 == lower }
        }
    }

    /// The opaque origin's serialization (Fetch / HTML: "null").
    public static let nullOrigin = "null"

    /// Whether the credentials header may be sent. The config refuses `allow_credentials` with `"*"`; a policy built
    /// in code with both still never answers a credentialed request for every origin.
    public var sendsCredentials: Bool { allowCredentials && !allowOrigins.contains("*") }

    /// nil when `pattern` is a valid `allow_origins` entry, otherwise why not.
    static func problem(withOriginPattern pattern: String) -> String? {
        if pattern == "*" || pattern == nullOrigin { return nil }
        let example = "expected \"*\", an origin such as \"https://app.example.com\" or a pattern such as \"https://*.example.com\""
        guard let parts = OriginParts(pattern.utf8[...]) else {
            return "invalid origin \"\(pattern)\": \(example)"
        }
        if parts.hasPath {
            return "invalid origin \"\(pattern)\": an origin has no path (remove everything from the first '/' after the host)"
        }
        let host = parts.wildcard ? parts.host.dropFirst(2) : parts.host
        if host.isEmpty {
            return "invalid origin \"\(pattern)\": missing host"
        }
        if host.contains(UInt8(ascii: "*")) {
            return "invalid origin \"\(pattern)\": '*' is only allowed as the whole first host label, as in \"https://*.example.com\""
        }
        let validHost = host.first == UInt8(ascii: "[")
            ? host.last == UInt8(ascii: "]")
            : host.allSatisfy { SocketAddressSpec.isLetter($0) || SocketAddressSpec.isDigit($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") }
        if !validHost {
            return "invalid origin \"\(pattern)\": \(example)"
        }
        if let port = parts.port {
            let valid = !port.isEmpty && port.count <= 5 && port.allSatisfy(SocketAddressSpec.isDigit)
                && port.reduce(0, { $0 * 10 + Int($1 - UInt8(ascii: "0")) }) <= 65535
            if !valid { return "invalid origin \"\(pattern)\": bad port" }
        }
        return nil
    }
}

/// `scheme://host[:port]` split into byte slices, without copying.
struct OriginParts {
    var scheme: Substring.UTF8View
    /// Includes IPv6 brackets, and the leading `*.` of a wildcard pattern.
    var host: Substring.UTF8View
    var port: Substring.UTF8View?
    var wildcard: Bool
    /// Anything after the authority (`/`, `?`, `#`): invalid in an origin.
    var hasPath: Bool

    init?(_ text: Substring.UTF8View) {
        // Scheme: a letter, then letters, digits, '+', '-', '.'; then "://".
        var cursor = text.startIndex
        guard cursor < text.endIndex, SocketAddressSpec.isLetter(text[cursor]) else { return nil }
        while cursor < text.endIndex {
            let byte = text[cursor]
            if SocketAddressSpec.isLetter(byte) || SocketAddressSpec.isDigit(byte) || byte == UInt8(ascii: "+")
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".") {
                cursor = text.index(after: cursor)
            } else {
                break
            }
        }
        scheme = text[text.startIndex..<cursor]
        let rest = text[cursor...]
        guard rest.starts(with: "://".utf8) else { return nil }
        var authority = rest.dropFirst(3)
        hasPath = false
        if let end = authority.firstIndex(where: { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") }) {
            hasPath = true
            authority = authority[..<end]
        }
        if authority.contains(where: { $0 <= 0x20 || $0 == UInt8(ascii: "@") || $0 >= 0x7F }) { return nil }
        var portStart: Substring.UTF8View.Index?
        if authority.first == UInt8(ascii: "[") {
            guard let close = authority.firstIndex(of: UInt8(ascii: "]")) else { return nil }
            let after = authority.index(after: close)
            if after < authority.endIndex {
                guard authority[after] == UInt8(ascii: ":") else { return nil }
                portStart = after
            }
        } else {
            portStart = authority.firstIndex(of: UInt8(ascii: ":"))
        }
        if let portStart {
            host = authority[..<portStart]
            port = authority[authority.index(after: portStart)...]
        } else {
            host = authority
            port = nil
        }
        wildcard = host.starts(with: "*.".utf8)
    }

    /// `self` is a pattern (exact or wildcard), `origin` a request's origin.
    func matches(_ origin: OriginParts) -> Bool {
        guard !origin.wildcard, !hasPath, OriginParts.equalIgnoringCase(scheme, origin.scheme) else { return false }
        switch (port, origin.port) {
        case (nil, nil): break
        case (let a?, let b?): guard a.elementsEqual(b) else { return false }
        default: return false
        }
        guard wildcard else { return OriginParts.equalIgnoringCase(host, origin.host) }
        let suffix = host.dropFirst()  // ".example.com"
        guard origin.host.count > suffix.count else { return false }
        return OriginParts.equalIgnoringCase(suffix, origin.host.suffix(suffix.count))
    }

    static func equalIgnoringCase(_ a: Substring.UTF8View, _ b: Substring.UTF8View) -> Bool {
        a.elementsEqual(b) { lowercased($0) == lowercased($1) }
    }

    static func lowercased(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
    }
}
