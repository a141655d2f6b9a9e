import Config
import GRPCWebCodec
import HTTP1Codec
import Upstream

/// What to do with a request head, the same for HTTP/1.1 and HTTP/2: answer a preflight, refuse it with a plain
/// HTTP error, answer it with a gRPC status, or start a call. The connection types only write the answer.
enum RequestAdmission {
    enum Decision {
        /// CORS preflight answered by the proxy (204 with these headers).
        case preflight([(String, String)])
        /// Not a gRPC-Web request (or a bad one): a plain HTTP error.
        case plainError(status: Int, message: String, extra: [(String, String)])
        /// A gRPC-Web request the proxy answers itself with a status (no route, no cluster, overload).
        case grpcLocalReply(GRPCStatusCode, String, encoding: GRPCWebEncoding, cors: [(String, String)])
        case grpcWeb(route: RouteConfig, pool: ClusterPool, encoding: GRPCWebEncoding, fields: GRPCWebRequestFields, cors: [(String, String)])
        /// Native gRPC (HTTP/2 only): forwarded as is.
        case nativeGRPC(route: RouteConfig, pool: ClusterPool)
        /// Native gRPC the proxy answers itself (trailers-only with this status).
        case nativeLocalReply(GRPCStatusCode, String)
    }

    /// - Parameter head: the request; a call sent without a preflight (`$httpHeaders`) comes back with the
    ///   parameter's headers merged in and the parameter removed from its target, and every later step (the call,
    ///   the access log) must use that head.
    /// - Parameter allowNativeGRPC: `application/grpc` requests are accepted (HTTP/2); over HTTP/1.1 they get 415.
    static func decide(_ head: inout HTTPRequestHead, listener: ListenerContext, worker: WorkerContext, allowNativeGRPC: Bool) -> Decision {
        if head.method == "OPTIONS" {
            worker.stats.corsPreflightsTotal.add(1)
            return preflight(head, listener: listener)
        }
        guard head.method == "POST" else {
            return .plainError(status: 405, message: "method \(head.method) not allowed: gRPC-Web calls use POST",
                               extra: [("Allow", "POST, OPTIONS")])
        }
        // Only a target with a query can carry $httpHeaders: gRPC paths rarely have one, so this costs a compare.
        var paramNames: [String]?
        if head.target.utf8.count != head.path.utf8.count {
            switch HTTPHeadersOverwrite.apply(to: head, limits: worker.config.limits) {
            case .absent:
                break
            case .merged(let merged, let names):
                head = merged
                paramNames = names
            case .refused(let status, let message, let limit):
                worker.stats.httpHeadersParamRefusedTotal.add(1)
                if let limit { worker.stats.rejected(by: limit) }
                return .plainError(status: status, message: message, extra: [])
            }
        }
        let fields = GRPCWebRequestFields(head.headers)
        let contentType = fields.contentType ?? ""
        if allowNativeGRPC && NativeGRPCContentType.matches(contentType) {
            return native(head, listener: listener, worker: worker)
        }
        guard let encoding = GRPCWebContentType.classify(contentType) else {
            let why = GRPCWebContentType.looksLikeGRPCWeb(contentType)
                ? "unsupported gRPC-Web content-type \"\(contentType)\": use application/grpc-web(+proto) or application/grpc-web-text(+proto)"
                : HTTPHeadersOverwrite.isSimpleRequestContentType(contentType)
                ? "content-type \(contentType) is accepted only with a \(HTTPHeadersParam.name) query parameter carrying the "
                    + "gRPC-Web headers (the grpc-web client's suppressCorsPreflight mode)"
                : "content-type must be application/grpc-web, application/grpc-web+proto, application/grpc-web-text or application/grpc-web-text+proto"
            return .plainError(status: 415, message: why, extra: [])
        }
        let route = listener.routes.match(path: head.path, headers: head.headers)
        let cors = route?.cors ?? listener.config.cors
        if let paramNames {
            if let why = HTTPHeadersOverwrite.refusal(head, names: paramNames, policy: cors) {
                worker.stats.httpHeadersParamRefusedTotal.add(1)
                return .plainError(status: 403, message: why, extra: [])
            }
            worker.stats.httpHeadersParamCallsTotal.add(1)
        }
        let corsHeaders = fields.origin == nil ? [] : CORSResponder.responseHeaders(origin: fields.origin, policy: cors)
        guard let route else {
            return .grpcLocalReply(.unimplemented, "no route for \(head.path)", encoding: encoding, cors: corsHeaders)
        }
        guard let pool = worker.pools[route.cluster] else {
            return .grpcLocalReply(.unavailable, "cluster \(route.cluster) not found", encoding: encoding, cors: corsHeaders)
        }
        if worker.overload.level >= .shedCalls {
            worker.stats.overloadCallsShedTotal.add(1)
            return .grpcLocalReply(.unavailable, worker.overload.description, encoding: encoding, cors: corsHeaders)
        }
        return .grpcWeb(route: route, pool: pool, encoding: encoding, fields: fields, cors: corsHeaders)
    }

    private static func preflight(_ head: HTTPRequestHead, listener: ListenerContext) -> Decision {
        guard CORSResponder.isPreflight(head) else {
            return .plainError(status: 405, message: "OPTIONS without CORS preflight headers", extra: [("Allow", "POST, OPTIONS")])
        }
        let route = listener.routes.match(path: head.path, headers: head.headers)
        switch CORSResponder.preflight(head, policy: route?.cors ?? listener.config.cors) {
        case .allowed(let headers):
            return .preflight(headers)
        case .rejected(let why):
            return .plainError(status: 403, message: "CORS preflight rejected: \(why)", extra: [])
        }
    }

    private static func native(_ head: HTTPRequestHead, listener: ListenerContext, worker: WorkerContext) -> Decision {
        guard let route = listener.routes.match(path: head.path, headers: head.headers) else {
            return .nativeLocalReply(.unimplemented, "no route for \(head.path)")
        }
        guard let pool = worker.pools[route.cluster] else {
            return .nativeLocalReply(.unavailable, "cluster \(route.cluster) not found")
        }
        if worker.overload.level >= .shedCalls {
            worker.stats.overloadCallsShedTotal.add(1)
            return .nativeLocalReply(.unavailable, worker.overload.description)
        }
        return .nativeGRPC(route: route, pool: pool)
    }
}

/// Native gRPC content types: `application/grpc` and `application/grpc+<subtype>` (`+proto`, `+json`, ...), with
/// parameters, case-insensitive; `application/grpc-web*` is gRPC-Web, not this. Checked on every HTTP/2 request,
/// so it compares bytes without allocating.
enum NativeGRPCContentType {
    private static let prefix = Array("application/grpc".utf8)

    static func matches(_ contentType: String) -> Bool {
        var utf8 = contentType.utf8[...]
        while let first = utf8.first, first == 0x20 || first == 0x09 { utf8 = utf8.dropFirst() }
        guard utf8.count >= prefix.count else { return false }
        for (byte, expected) in zip(utf8, prefix) where byte | 0x20 != expected && byte != expected {
            return false
        }
        let rest = utf8.dropFirst(prefix.count)
        guard let next = rest.first else { return true }
        // "application/grpc" alone (maybe with parameters or spaces), or "+subtype"; not "-web".
        return next == UInt8(ascii: "+") || next == UInt8(ascii: ";") || next == 0x20 || next == 0x09
    }
}
