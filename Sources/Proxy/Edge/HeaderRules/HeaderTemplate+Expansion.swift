import Config

extension HeaderTemplate {
    /// The value for one call. A template without variables costs no work beyond returning its text.
    func expand(_ request: EdgeCallRequest, claims: [String: String]) -> String {
        if let constant { return constant }
        var value = ""
        for part in parts {
            switch part {
            case .literal(let text): value += text
            case .downstreamAddress: value += request.downstreamAddress
            case .downstreamHost: value += ForwardedFor.clientHost(request)
            case .route: value += request.route.name
            case .cluster: value += request.route.cluster
            case .claim(let name): value += claims[name] ?? ""
            case .requestHeader(let name):
                // The call's id as the proxy resolved it (the client's, or the one generated for it).
                if name == "x-request-id", !request.requestID.isEmpty {
                    value += request.requestID
                } else {
                    value += request.metadata(name) ?? ""
                }
            }
        }
        return HeaderTemplate.withoutControlCharacters(value)
    }

    /// A claim is any JSON string: a CR or LF in it must not end up splitting a header block (HTTP/1.1 responses
    /// to the browser). Request headers are checked by the parser already; this is the one place others enter.
    static func withoutControlCharacters(_ value: String) -> String {
        let isClean = value.utf8.allSatisfy { $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }
        if isClean { return value }
        return String(decoding: value.utf8.filter { $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }, as: UTF8.self)
    }
}

extension HeaderEditRules {
    /// Appends this block's edits (remove, then set, then add), values expanded for the call.
    func appendEdits(to edits: inout [HeaderEdit], _ request: EdgeCallRequest, claims: [String: String]) {
        for name in remove { edits.append(.remove(name)) }
        for (name, template) in set { edits.append(.set(name, template.expand(request, claims: claims))) }
        for (name, template) in add { edits.append(.add(name, template.expand(request, claims: claims))) }
    }
}
