internal import COpenSSL

/// What the proxy reads from a certificate: its subject alternative names (SNI selection, XFCC), subject, digest
/// and expiry.
enum X509Inspection {
    /// Subject alternative names of one type (`GEN_DNS`, `GEN_URI`), in certificate order.
    static func alternativeNames(_ cert: OpaquePointer, type: Int32) -> [String] {
        guard let raw = X509_get_ext_d2i(cert, NID_subject_alt_name, nil, nil) else { return [] }
        let names = OpaquePointer(raw)
        defer { COpenSSL_GENERAL_NAMES_free(names) }
        var result: [String] = []
        for i in 0..<COpenSSL_GENERAL_NAMES_count(names) {
            guard let name = COpenSSL_GENERAL_NAMES_at(names, i), COpenSSL_GENERAL_NAME_type(name) == type,
                  let string = COpenSSL_GENERAL_NAME_string(name) else { continue }
            let length = Int(ASN1_STRING_length(string))
            guard length > 0, let data = ASN1_STRING_get0_data(string) else { continue }
            result.append(String(decoding: UnsafeBufferPointer(start: data, count: length), as: UTF8.self))
        }
        return result
    }

    /// The subject's common name (the last CN), for certificates without DNS names.
    static func commonName(_ cert: OpaquePointer) -> String? {
        guard let subject = X509_get_subject_name(cert) else { return nil }
        let index = X509_NAME_get_index_by_NID(subject, NID_commonName, -1)
        guard index >= 0, let entry = X509_NAME_get_entry(subject, index),
              let data = X509_NAME_ENTRY_get_data(entry) else { return nil }
        var utf8: UnsafeMutablePointer<UInt8>?
        let length = ASN1_STRING_to_UTF8(&utf8, data)
        guard length >= 0, let utf8 else { return nil }
        defer { COpenSSL_free(utf8) }
        return String(decoding: UnsafeBufferPointer(start: utf8, count: Int(length)), as: UTF8.self)
    }

    /// The host names a server certificate answers for, lowercased: DNS SANs, or the CN when it has none.
    static func hostNames(_ cert: OpaquePointer) -> [String] {
        let dns = alternativeNames(cert, type: GEN_DNS)
        if !dns.isEmpty { return dns.map { $0.lowercased() } }
        return commonName(cert).map { [$0.lowercased()] } ?? []
    }

    /// The subject in RFC 2253 form (`CN=browser-1,O=grpc-web-proxy tests`), as Envoy's XFCC `Subject` shows it.
    static func subjectRFC2253(_ cert: OpaquePointer) -> String {
        guard let subject = X509_get_subject_name(cert), let bio = BIO_new(BIO_s_mem()) else { return "" }
        defer { BIO_free(bio) }
        X509_NAME_print_ex(bio, subject, 0, COpenSSL_XN_FLAG_RFC2253())
        var pointer: UnsafeMutablePointer<CChar>?
        let length = BIO_ctrl(bio, BIO_CTRL_INFO, 0, &pointer)
        guard length > 0, let pointer else { return "" }
        return pointer.withMemoryRebound(to: UInt8.self, capacity: length) {
            String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self)
        }
    }

    /// SHA-256 of the DER encoding, lowercase hex.
    static func sha256Hex(_ cert: OpaquePointer) -> String {
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        guard X509_digest(cert, EVP_sha256(), &digest, &length) == 1 else { return "" }
        let hex = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(Int(length) * 2)
        for byte in digest[0..<Int(length)] {
            out.append(hex[Int(byte >> 4)])
            out.append(hex[Int(byte & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// True when the certificate's notAfter is in the past.
    static func isExpired(_ cert: OpaquePointer) -> Bool {
        guard let notAfter = X509_get0_notAfter(cert) else { return false }
        return X509_cmp_current_time(notAfter) < 0
    }

    /// Whether `host` (lowercased) matches a certificate name: exact, or `*.example.com` matching exactly one
    /// more label (RFC 6125 §6.4.3, left-most label only).
    static func name(_ pattern: String, matches host: String) -> Bool {
        if pattern == host { return true }
        guard pattern.hasPrefix("*.") else { return false }
        let suffix = pattern.dropFirst(1)  // ".example.com"
        guard host.hasSuffix(suffix) else { return false }
        let label = host.dropLast(suffix.count)
        return !label.isEmpty && !label.contains(".")
    }
}
