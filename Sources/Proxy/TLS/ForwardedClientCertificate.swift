public import TLS

/// `x-forwarded-client-cert` (XFCC), in Envoy's format, so backends written for Envoy read it unchanged:
/// `Hash=<sha256 hex>;Subject="<RFC 2253>";URI=<uri>;DNS=<name>;DNS=<name>`. Elements are separated by `;`;
/// a value containing `,`, `;` or `=` is quoted, with `"` and `\` escaped. The proxy always replaces a value the
/// client sent: only what the proxy verified reaches the upstream.
public enum ForwardedClientCertificate {
    public static let headerName = "x-forwarded-client-cert"

    public static func headerValue(_ cert: TLSPeerCertificate) -> String {
        var parts = ["Hash=\(cert.sha256)", "Subject=\(quoted(cert.subject, always: true))"]
        if let uri = cert.uris.first { parts.append("URI=\(quoted(uri, always: false))") }
        for name in cert.dnsNames { parts.append("DNS=\(quoted(name, always: false))") }
        return parts.joined(separator: ";")
    }

    static func quoted(_ value: String, always: Bool) -> String {
        guard always || value.contains(where: { $0 == "," || $0 == ";" || $0 == "=" || $0 == "\"" }) else { return value }
        var out = "\""
        for ch in value {
            if ch == "\"" || ch == "\\" { out.append("\\") }
            out.append(ch)
        }
        return out + "\""
    }
}
