public import GRPCWebCodec
public import HTTP1Codec

/// Header rules between HTTP/1.1 gRPC-Web and native gRPC over HTTP/2 (PROTOCOLS.md §1.5, §1.6, §4).
public enum GRPCHeaderTranslation {
    /// HTTP/1 connection-specific fields (never valid in HTTP/2), credentials meant for this proxy, and fields the
    /// proxy rewrites itself. A switch rather than a Set: comparing small strings beats hashing them on the
    /// per-call path.
    static func isDroppedRequestHeader(_ lowerName: String) -> Bool {
        switch lowerName {
        case "host", "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "trailer",
             "proxy-authorization", "content-length", "content-type", "grpc-timeout", "http2-settings", "expect",
             // Only the proxy, which verified the certificate, may say who the client is.
             "x-forwarded-client-cert":
            return true
        default:
            return false
        }
    }

    /// Hop-by-hop fields, fields the proxy writes itself (framing, content type) and the CORS response fields,
    /// which the proxy's CORS policy owns: an upstream's `access-control-allow-origin` next to the proxy's makes
    /// the browser reject the response (two values).
    static func isDroppedResponseHeader(_ name: String) -> Bool {
        switch name {
        case "content-length", "content-type", "connection", "keep-alive", "transfer-encoding", "trailer", "upgrade",
             "proxy-connection", "proxy-authenticate", "te":
            return true
        default:
            return name.utf8.count > 15 && name.utf8.starts(with: "access-control-".utf8)
        }
    }

    /// The names a request's `Connection` field nominates as hop-by-hop (RFC 9110 §7.6.1), apart from those
    /// dropped anyway, appended to `names` lower-cased.
    static func connectionNominated(_ value: String, into names: inout [String]) {
        // What browsers send: nothing to split.
        if value.equalsLowercaseASCII("keep-alive") || value.equalsLowercaseASCII("close") { return }
        for token in value.split(separator: ",") {
            let name = String(token).trimmingWhitespace().asciiLowercased()
            if name.isEmpty || name == "close" || isDroppedRequestHeader(name) { continue }
            names.append(name)
        }
    }

    /// Native gRPC request headers for an HTTP/1.1 gRPC-Web request (or the metadata of a WebSocket call).
    /// - Parameter timeoutNanos: the remaining deadline to forward, nil for none.
    /// - Parameter forwardedClientCert: the `x-forwarded-client-cert` value of a verified client certificate.
    /// - Parameter native: a native gRPC request: its content type passes unchanged and no
    ///   `grpc-accept-encoding` is added (a native client decompresses for itself).
    public static func upstreamRequestHeaders(path: String, authority: String, contentType: String?,
                                              metadata: some Sequence<(name: String, value: String)>,
                                              timeoutNanos: Int64?, forwardedClientCert: String? = nil,
                                              native: Bool = false) -> [(String, String)] {
        var h: [(String, String)] = [
            (":method", "POST"),
            (":scheme", "http"),
            (":path", path),
            (":authority", authority),
            ("content-type", native ? (contentType ?? "application/grpc") : upstreamContentType(contentType)),
            ("te", "trailers"),
        ]
        if let timeoutNanos { h.append(("grpc-timeout", GRPCTimeout.encode(nanoseconds: timeoutNanos))) }
        if let forwardedClientCert { h.append((ForwardedClientCertificate.headerName, forwardedClientCert)) }
        let firstMetadata = h.count
        var sawAcceptEncoding = false
        var nominated: [String] = []
        for (name, value) in metadata {
            let lower = name.asciiLowercased()
            if lower == "connection" { connectionNominated(value, into: &nominated) }
            if lower.utf8.first == UInt8(ascii: ":") || isDroppedRequestHeader(lower) { continue }
            if lower == "grpc-accept-encoding" { sawAcceptEncoding = true }
            h.append((lower, value))
        }
        if !nominated.isEmpty {
            // `Connection: keep-alive, X-Hop` makes X-Hop hop-by-hop: it stays between the browser and us.
            var kept = Array(h[..<firstMetadata])
            for field in h[firstMetadata...] where !nominated.contains(field.0) { kept.append(field) }
            h = kept
            sawAcceptEncoding = h[firstMetadata...].contains { $0.0 == "grpc-accept-encoding" }
        }
        // Browsers cannot decode compressed messages (PROTOCOLS.md §1.6): ask for identity unless the client chose.
        if !sawAcceptEncoding && !native { h.append(("grpc-accept-encoding", "identity")) }
        return h
    }

    /// application/grpc-web[-text][+proto] -> application/grpc[+proto].
    static func upstreamContentType(_ requestType: String?) -> String {
        // Only the four proto forms reach here (GRPCWebContentType.classify); a suffix check is enough and
        // avoids the generic substring search, which showed up in profiles.
        guard let t = requestType else { return "application/grpc" }
        return t.utf8.count >= 6 && t.utf8.suffix(6).elementsEqual("+proto".utf8) ? "application/grpc+proto" : "application/grpc"
    }

    /// Response fields to copy downstream: pseudo-headers, hop-by-hop and proxy-owned fields removed.
    ///
    /// A final block (trailers, or trailers-only) also gets exactly one valid `grpc-status` and at most one
    /// `grpc-message` (`normalizedStatus`). A block is final when `endStream` says so (the caller knows a
    /// trailers-only answer by its END_STREAM), when it has no `:status` (trailers never do), or when it carries
    /// `grpc-status` (only final blocks may).
    public static func downstreamResponseHeaders(_ upstream: [(String, String)], endStream: Bool = false) -> [(String, String)] {
        var out: [(String, String)] = []
        out.reserveCapacity(upstream.count)
        var sawStatusPseudo = false
        var sawGRPCStatus = false
        for field in upstream {
            if field.0.utf8.first == UInt8(ascii: ":") {
                if field.0 == ":status" { sawStatusPseudo = true }
                continue
            }
            if isDroppedResponseHeader(field.0) { continue }
            if field.0 == "grpc-status" { sawGRPCStatus = true }
            out.append(field)
        }
        return endStream || !sawStatusPseudo || sawGRPCStatus ? normalizedStatus(out) : out
    }

    /// A final block's status, made unambiguous for the browser: no `grpc-status`, several, or one that is not a
    /// number become 13 with a message saying what the upstream sent (rather than no status, or a joined "0, 13"
    /// no client can parse); of several `grpc-message` fields the first is kept.
    static func normalizedStatus(_ fields: [(String, String)]) -> [(String, String)] {
        var statuses: [String] = []
        var message: String?
        var messages = 0
        for (name, value) in fields {
            if name == "grpc-status" {
                statuses.append(value)
            } else if name == "grpc-message" {
                messages += 1
                if message == nil { message = value }
            }
        }
        if statuses.count == 1 && isValidStatus(statuses[0]) && messages <= 1 { return fields }
        let others = fields.filter { $0.0 != "grpc-status" && $0.0 != "grpc-message" }
        if statuses.count == 1 && isValidStatus(statuses[0]) {
            return [("grpc-status", statuses[0]), ("grpc-message", message ?? "")] + others
        }
        var problem: String
        switch statuses.count {
        case 0: problem = "upstream sent no grpc-status"
        case 1: problem = "upstream sent an invalid grpc-status \"\(statuses[0].prefix(32))\""
        default: problem = "upstream sent \(statuses.count) grpc-status values (\(statuses.prefix(8).joined(separator: ", ")))"
        }
        if let message, !message.isEmpty { problem += "; its grpc-message: \(GRPCMessageEncoding.percentDecode(message))" }
        return statusFields(.internalError, problem) + others
    }

    /// A status code as gRPC sends it: a decimal number (codes above 16 are allowed and mean UNKNOWN to clients).
    private static func isValidStatus(_ value: String) -> Bool {
        let utf8 = value.utf8
        return !utf8.isEmpty && utf8.count <= 10 && utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
    }

    /// True if an upstream answer is native gRPC (PROTOCOLS.md §1.8): 200 with application/grpc*, or
    /// any answer that carries grpc-status.
    public static func isGRPCResponse(_ headers: [(String, String)]) -> Bool {
        var status = ""
        var contentType = ""
        for (n, v) in headers {
            if n == ":status" { status = v } else if n == "content-type" { contentType = v.lowercased() } else if n == "grpc-status" { return true }
        }
        return status == "200" && contentType.hasPrefix("application/grpc")
    }

    /// A trailer/status block for a status the proxy produces itself.
    public static func statusFields(_ code: GRPCStatusCode, _ message: String) -> [(String, String)] {
        var f: [(String, String)] = [("grpc-status", String(code.rawValue))]
        if !message.isEmpty { f.append(("grpc-message", GRPCMessageEncoding.percentEncode(message))) }
        return f
    }
}

extension String {
    /// Lower-cases ASCII letters; returns self (no allocation) when there are none, the common case for
    /// metadata keys.
    func asciiLowercased() -> String {
        if !utf8.contains(where: { $0 >= 0x41 && $0 <= 0x5A }) { return self }
        return String(decoding: utf8.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }, as: UTF8.self)
    }
}
