import Config
import HTTP1Codec

/// What the edge rules (JWT, rate limits, header rules) see of a call before it starts upstream: its route, the
/// request's head, the gRPC metadata it carries and who sent it. Built only for calls that reach `EdgePolicy`.
struct EdgeCallRequest {
    let route: RouteConfig
    let listenerName: String
    /// The HTTP request: its headers are the call's metadata for gRPC-Web and native gRPC; for a WebSocket call
    /// they are the upgrade request's (cookies live there).
    let head: HTTPRequestHead
    /// A WebSocket call's metadata message (its gRPC metadata, names lower-case); nil for HTTP calls.
    let webSocketMetadata: [(String, String)]?
    /// The client's `host:port` as the socket sees it (`[v6]:port` for IPv6), and its host alone.
    let downstreamAddress: String
    let downstreamHost: String
    /// The client spoke TLS to us (for `x-forwarded-proto`).
    let secure: Bool
    /// The call's `x-request-id`: the client's, or the one the proxy generated (`%REQ(x-request-id)%`).
    var requestID = ""

    /// A metadata value by lower-case name: the WebSocket metadata message for WebSocket calls, else the request
    /// headers.
    func metadata(_ lowerName: String) -> String? {
        if let webSocketMetadata { return webSocketMetadata.first { $0.0 == lowerName }?.1 }
        return head.headers[lowerName]
    }

    /// `host:port` without the port (`192.0.2.1`, `2001:db8::1` for `[2001:db8::1]:443`). The connections keep
    /// theirs (`downstreamHost`), so this runs once per connection, not per call.
    static func host(of address: String) -> String {
        var s = Substring(address)
        if s.hasPrefix("["), let close = s.firstIndex(of: "]") { return String(s[s.index(after: s.startIndex)..<close]) }
        if let colon = s.lastIndex(of: ":") { s = s[..<colon] }
        return String(s)
    }
}
