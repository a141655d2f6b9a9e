import HTTP1Codec

/// The request header values the proxy itself reads, found in one pass over the headers (case-insensitive
/// names) instead of one scan per lookup: header lookups showed up in per-call profiles.
struct GRPCWebRequestFields {
    var contentType: String?
    var accept: String?
    var origin: String?
    var host: String?
    var grpcTimeout: String?
    var grpcAcceptEncoding: String?

    init(_ headers: HTTPHeaders) {
        for (name, value) in headers {
            switch name.utf8.count {
            case 4: if host == nil, name.equalsLowercaseASCII("host") { host = value }
            case 6:
                if accept == nil, name.equalsLowercaseASCII("accept") { accept = value }
                else if origin == nil, name.equalsLowercaseASCII("origin") { origin = value }
            case 12:
                if contentType == nil, name.equalsLowercaseASCII("content-type") { contentType = value }
                else if grpcTimeout == nil, name.equalsLowercaseASCII("grpc-timeout") { grpcTimeout = value }
            case 20: if grpcAcceptEncoding == nil, name.equalsLowercaseASCII("grpc-accept-encoding") { grpcAcceptEncoding = value }
            default: break
            }
        }
    }
}

extension String {
    /// ASCII case-insensitive equality with an already lower-case literal.
    func equalsLowercaseASCII(_ lower: StaticString) -> Bool {
        let l = UnsafeRawBufferPointer(start: lower.utf8Start, count: lower.utf8CodeUnitCount)
        guard utf8.count == l.count else { return false }
        var i = 0
        for b in utf8 {
            let folded = b >= 0x41 && b <= 0x5A ? b | 0x20 : b
            if folded != l[i] { return false }
            i += 1
        }
        return true
    }
}
