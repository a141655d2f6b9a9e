/// A header value written in the config, with variables expanded per call.
public struct HeaderTemplate: Sendable, Equatable {
    public enum Part: Sendable, Equatable {
        case literal(String)
        /// `%DOWNSTREAM_REMOTE_ADDRESS%`: the client's `host:port`.
        case downstreamAddress
        /// `%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%`: the client's address.
        case downstreamHost
        /// `%REQ(name)%`: a request header / metadata value (name lower-case); empty when absent. `x-request-id`
        /// is the call's id (the client's, or the one the proxy generated).
        case requestHeader(String)
        /// `%ROUTE%`: the route's name.
        case route
        /// `%CLUSTER%`: the route's cluster.
        case cluster
        /// `%CLAIM(name)%`: a claim of the verified JWT; empty when absent.
        case claim(String)
    }

    public var parts: [Part]

    public init(parts: [Part]) { self.parts = parts }

    /// The value when it has no variable (computed once, not per call).
    public var constant: String? {
        if parts.isEmpty { return "" }
        if parts.count == 1, case .literal(let text) = parts[0] { return text }
        return nil
    }
}

/// Edits of one header block: Envoy's `*_headers_to_add` (append), set (replace) and `*_headers_to_remove`.
/// Applied in this order: remove, set, add.
public struct HeaderEditRules: Sendable, Equatable {
    public var add: [(name: String, value: HeaderTemplate)] = []
    public var set: [(name: String, value: HeaderTemplate)] = []
    public var remove: [String] = []

    public init() {}

    public var isEmpty: Bool { add.isEmpty && set.isEmpty && remove.isEmpty }

    public static func == (a: HeaderEditRules, b: HeaderEditRules) -> Bool {
        a.remove == b.remove && a.add.elementsEqual(b.add, by: { $0.name == $1.name && $0.value == $1.value })
            && a.set.elementsEqual(b.set, by: { $0.name == $1.name && $0.value == $1.value })
    }
}

/// `request_headers`, `response_headers` and `response_trailers` of a route or a cluster.
public struct HeaderRules: Sendable, Equatable {
    /// To the upstream request.
    public var request = HeaderEditRules()
    /// To the response headers sent to the client.
    public var responseHeaders = HeaderEditRules()
    /// To the trailers sent to the client (gRPC-Web trailer frame, WebSocket final block, HTTP/2 trailers).
    public var responseTrailers = HeaderEditRules()

    public init() {}

    public var isEmpty: Bool { request.isEmpty && responseHeaders.isEmpty && responseTrailers.isEmpty }
}
