import Config

/// Who the client is when proxies stand in front of us, and the `x-forwarded-*` values to send upstream
/// (`forwarded_headers` of the listener, copied onto each route).
///
/// Choice (Envoy's `use_remote_address: true` with `xff_trusted_cidrs`): the socket peer is the client unless it
/// is a trusted proxy; then the forwarded chain is believed, read from the right, and the first address that is
/// not itself a trusted proxy is the client. A chain from an untrusted peer is discarded.
enum ForwardedFor {
    /// The `x-forwarded-for` a proxy in front put on the HTTP request (for WebSocket calls, the upgrade
    /// request's: that is where a front proxy writes it, not in the metadata message).
    static func incomingChain(_ request: EdgeCallRequest) -> String? {
        request.head.headers["x-forwarded-for"]
    }

    /// The client's address for limit keys and `%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%`.
    static func clientHost(_ request: EdgeCallRequest) -> String {
        let peer = request.downstreamHost
        let config = request.route.forwardedHeaders
        guard !config.trustedProxies.isEmpty, config.isTrusted(peer), let chain = incomingChain(request) else { return peer }
        var leftmost: Substring?
        for element in chain.split(separator: ",").reversed() {
            let address = element.trimmingSpaces()
            guard IPAddressBytes(parsing: address) != nil else { return peer }
            if !config.isTrusted(String(address)) { return String(address) }
            leftmost = address
        }
        return leftmost.map(String.init) ?? peer
    }

    /// Adds `x-forwarded-for` and `x-forwarded-proto` to the upstream edits (they replace any client copy).
    static func addEdits(_ request: EdgeCallRequest, to grant: inout EdgeCallGrant) {
        let config = request.route.forwardedHeaders
        let peer = request.downstreamHost
        var proto = request.secure ? "https" : "http"
        var chain = peer
        if !config.trustedProxies.isEmpty, config.isTrusted(peer) {
            if let incoming = incomingChain(request), !incoming.isEmpty { chain = incoming + ", " + peer }
            if let incomingProto = request.head.headers["x-forwarded-proto"], incomingProto == "http" || incomingProto == "https" {
                proto = incomingProto
            }
        }
        grant.upstreamEdits.append(.set("x-forwarded-for", chain))
        grant.upstreamEdits.append(.set("x-forwarded-proto", proto))
    }
}

extension Substring {
    func trimmingSpaces() -> Substring {
        var s = self
        while let first = s.first, first == " " || first == "\t" { s = s.dropFirst() }
        while let last = s.last, last == " " || last == "\t" { s = s.dropLast() }
        return s
    }
}
