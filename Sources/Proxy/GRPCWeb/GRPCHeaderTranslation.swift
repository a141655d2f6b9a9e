public import GRPCWebCodec
public import HTTP1Codec

/// Header rules between HTTP/1.1 gRPC-Web and native gRPC over HTTP/2 (PROTOCOLS.md §1.5, §1.6, §4).
public enum GRPCHeaderTranslation {
    /// HTTP/1 connection-specific fields (never valid in HTTP/2) and fields the proxy rewrites itself.
    /// A switch rather than a Set: comparing small strings beats hashing them on the per-call path.
    static func isDroppedRequestHeader(_ lowerName: String) -> Bool {
        switch lowerName {
        case "host", "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te",
             "content-length", "content-type", "grpc-timeout", "http2-settings", "expect":
            return true
        default:
            return false
        }
    }

    static func isDroppedResponseHeader(_ name: String) -> Bool {
        switch name {
        case "content-length", "content-type", "connection", "keep-alive", "transfer-encoding", "trailer", "upgrade",
             "proxy-connection":
            return true
        default:
            return false
        }
    }

    /// Native gRPC request headers for an HTTP/1.1 gRPC-Web request (or the metadata of a WebSocket call).
    /// - Parameter timeoutNanos: the remaining deadline to forward, nil for none.
    public static func upstreamRequestHeaders(path: String, authority: String, contentType: String?,
                                              metadata: some Sequence<(name: String, value: String)>,
                                              timeoutNanos: Int64?) -> [(String, String)] {
        var h: [(String, String)] = [
            (":method", "POST"),
            (":scheme", "http"),
            (":path", path),
            (":authority", authority),
            ("content-type", upstreamContentType(contentType)),
            ("te", "trailers"),
        ]
        if let timeoutNanos { h.append(("grpc-timeout", GRPCTimeout.encode(nanoseconds: timeoutNanos))) }
        var sawAcceptEncoding = false
        for (name, value) in metadata {
            let lower = name.asciiLowercased()
            if lower.utf8.first == UInt8(ascii: ":") || isDroppedRequestHeader(lower) { continue }
            if lower == "grpc-accept-encoding" { sawAcceptEncoding = true }
            h.append((lower, value))
        }
        // Browsers cannot decode compressed messages (PROTOCOLS.md §1.6): ask for identity unless the client chose.
        if !sawAcceptEncoding { h.append(("grpc-accept-encoding", "identity")) }
        return h
    }

    /// application/grpc-web[-text][+proto] -> application/grpc[+proto].
    static func upstreamContentType(_ requestType: String?) -> String {
        // Only the four proto forms reach here (GRPCWebContentType.classify); a suffix check is enough and
        // avoids the generic substring search, which showed up in profiles.
        guard let t = requestType else { return "application/grpc" }
        return t.utf8.count >= 6 && t.utf8.suffix(6).elementsEqual("+proto".utf8) ? "application/grpc+proto" : "application/grpc"
    }

    /// Response headers to copy downstream (pseudo-headers and connection-specific ones removed).
    public static func downstreamResponseHeaders(_ upstream: [(String, String)]) -> [(String, String)] {
        upstream.filter { $0.0.utf8.first != UInt8(ascii: ":") && !isDroppedResponseHeader($0.0) }
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
