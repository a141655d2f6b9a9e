/// Content-type rules for gRPC-Web requests and responses (PROTOCOLS.md §1.1, §1.4, §1.10).
///
/// Only the protobuf forms are accepted: `+json` and other codecs would need the upstream to speak them, and
/// Envoy (the reference deployment) does not accept them either. Matching is case-insensitive and ignores
/// parameters, which is more lenient than Envoy's byte-exact set and never ambiguous.
public enum GRPCWebContentType {
    /// Classifies a request content-type. Accepts exactly the four proto forms: `application/grpc-web`,
    /// `application/grpc-web+proto`, `application/grpc-web-text`, `application/grpc-web-text+proto`;
    /// case-insensitive, parameters after ';' ignored. Returns nil for anything else.
    public static func classify(_ contentType: String) -> GRPCWebEncoding? {
        let m = mediaType(Substring(contentType).utf8)
        if equalsLowercased(m, "application/grpc-web") || equalsLowercased(m, "application/grpc-web+proto") {
            return .binary
        }
        if equalsLowercased(m, "application/grpc-web-text") || equalsLowercased(m, "application/grpc-web-text+proto") {
            return .text
        }
        return nil
    }

    /// True if the value starts with `application/grpc-web` (case-insensitive, leading whitespace ignored):
    /// such requests that `classify` rejects get 415 rather than being treated as plain HTTP.
    public static func looksLikeGRPCWeb(_ contentType: String) -> Bool {
        var u = Substring(contentType).utf8
        while let f = u.first, isOWS(f) { u = u.dropFirst() }
        return hasLowercasedPrefix(u, "application/grpc-web")
    }

    /// Response encoding: text if `accept` names a `application/grpc-web-text` media type (also its `+proto`
    /// form or the spec's `-base64` alias, anywhere in a comma list, parameters ignored), else the request's.
    /// Mirroring the request when Accept is silent avoids Envoy's surprise of binary answers to text requests.
    public static func responseEncoding(request: GRPCWebEncoding, accept: String?) -> GRPCWebEncoding {
        guard let accept else { return request }
        for element in Substring(accept).split(separator: ",") {
            let m = mediaType(element.utf8)
            if equalsLowercased(m, "application/grpc-web-text") || equalsLowercased(m, "application/grpc-web-text+proto")
                || equalsLowercased(m, "application/grpc-web-text-base64") {
                return .text
            }
        }
        return request
    }

    /// The content-type the proxy answers with: always the explicit `+proto` form, like Envoy.
    public static func responseContentType(_ e: GRPCWebEncoding) -> String {
        switch e {
        case .binary: return "application/grpc-web+proto"
        case .text: return "application/grpc-web-text+proto"
        }
    }

    /// Content-type sent upstream on the native gRPC request.
    public static let upstreamContentType = "application/grpc"
}
