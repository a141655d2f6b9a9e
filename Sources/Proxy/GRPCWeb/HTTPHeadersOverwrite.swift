import Config
import GRPCWebCodec
import HTTP1Codec

/// Calls sent without a CORS preflight (grpc-web's `suppressCorsPreflight`): the gRPC headers arrive in the
/// `$httpHeaders` query parameter of a simple request (form or text/plain content type). The decoded fields
/// replace same-named request fields and the parameter leaves the target, so routing, the edge stages and the
/// upstream see the call exactly as if the headers had been sent.
///
/// The preflight it skips is what normally keeps a foreign page from making the call at all, so that check is made
/// here instead: a cross-origin request must come from an origin the route's CORS policy allows, and may set only
/// headers the policy allows (`allow_headers`), as the preflight answer would have said.
enum HTTPHeadersOverwrite {
    enum Outcome {
        /// No `$httpHeaders` parameter: the request as sent.
        case absent
        /// The request with the parameter's fields merged in and the parameter removed from its target.
        case merged(HTTPRequestHead, names: [String])
        /// A malformed, oversized or forbidden parameter: a plain HTTP error; `limit` when a size limit refused it.
        case refused(status: Int, message: String, limit: RejectingLimit?)
    }

    /// Decodes and merges the parameter of `head`, if it has one. Runs only for targets with a query.
    static func apply(to head: HTTPRequestHead, limits: DownstreamLimits) -> Outcome {
        let found: HTTPHeadersParam.Found
        let fields: [(String, String)]
        do {
            guard let f = try HTTPHeadersParam.find(in: head.target) else { return .absent }
            found = f
            fields = try HTTPHeadersParam.decode(found.encodedValue, maxEncodedSize: limits.maxHTTPHeadersParamSize,
                                                 maxFields: limits.maxHeadersCount)
        } catch {
            return .refused(status: status(for: error.kind), message: error.message,
                            limit: error.kind == .tooLarge ? .httpHeadersParamSize : nil)
        }
        guard let contentType = fields.first(where: { $0.0.lowercased() == "content-type" })?.1,
              GRPCWebContentType.classify(contentType) != nil else {
            return .refused(status: 415, message: "the \(HTTPHeadersParam.name) parameter must carry a gRPC-Web content-type "
                + "(application/grpc-web-text or application/grpc-web+proto, as the grpc-web client sends it)", limit: nil)
        }
        // Names in the parameter are unique (duplicates are refused), so removing each then adding all is a merge.
        var headers = head.headers
        for (name, _) in fields { headers.remove(name) }
        for (name, value) in fields { headers.add(name: name, value: value) }
        if headers.count > limits.maxHeadersCount {
            return .refused(status: 431, message: "\(headers.count) request header fields with those of \(HTTPHeadersParam.name), "
                + "over limits.max_headers_count (\(limits.maxHeadersCount))", limit: nil)
        }
        var merged = head
        merged.headers = headers
        merged.target = found.remainingTarget
        return .merged(merged, names: fields.map(\.0))
    }

    /// nil when `policy` lets this request skip the preflight, else why not (answered 403). `head` is the merged
    /// request: Origin and Host cannot come from the parameter, so they are the browser's own.
    static func refusal(_ head: HTTPRequestHead, names: [String], policy: CORSPolicy?) -> String? {
        if let policy, !policy.allowHTTPHeadersParam {
            return "calls with the \(HTTPHeadersParam.name) parameter are turned off on this route (cors.allow_http_headers_param: false)"
        }
        guard let origin = head.headers["origin"], !CORSResponder.isSameOrigin(origin, host: head.headers["host"]) else {
            return nil  // not a cross-origin browser request: nothing a preflight would have checked
        }
        guard let policy else {
            return "cross-origin call from \(origin) refused: CORS is not enabled on this route"
        }
        guard policy.allows(origin: origin) else {
            return "cross-origin call from \(origin) refused: the origin is not in cors.allow_origins"
        }
        if let name = names.first(where: { !policy.allowsRequestHeader($0) }) {
            return "header \(name) in \(HTTPHeadersParam.name) is not allowed from \(origin): add it to cors.allow_headers"
        }
        return nil
    }

    /// The media types a browser sends without a preflight that a gRPC-Web call can carry (the client's form
    /// type, and text/plain); accepted only with the parameter.
    static func isSimpleRequestContentType(_ contentType: String) -> Bool {
        let media = contentType.split(separator: ";", maxSplits: 1).first.map { String($0).trimmingWhitespace().lowercased() } ?? ""
        return media == "application/x-www-form-urlencoded" || media == "text/plain"
    }

    private static func status(for kind: HTTPHeadersParamError.Kind) -> Int {
        switch kind {
        case .tooLarge, .tooManyLines: return 431
        case .malformed, .forbidden, .duplicate: return 400
        }
    }
}
