internal import COpenSSL

/// What a TLS listener needs, as file paths (the config layer resolves and locates them).
public struct TLSServerSettings: Sendable, Equatable {
    /// Never empty; `[0]` is the default, the others are chosen by SNI.
    public var certificates: [TLSCertificateFiles]
    public var clientCA: String?
    public var requireClientCertificate: Bool
    public var minimumTLS13: Bool
    /// Protocols offered through ALPN, in our order of preference (e.g. ["http/1.1"]).
    public var alpn: [String]

    public init(certificates: [TLSCertificateFiles], clientCA: String? = nil, requireClientCertificate: Bool = false,
                minimumTLS13: Bool = false, alpn: [String] = ["http/1.1"]) {
        self.certificates = certificates
        self.clientCA = clientCA
        self.requireClientCertificate = requireClientCertificate
        self.minimumTLS13 = minimumTLS13
        self.alpn = alpn
    }
}

/// The OpenSSL contexts of one TLS listener: one `SSL_CTX` per certificate, identical apart from the certificate,
/// and an SNI callback on the default one that moves a handshake to the context whose names match.
///
/// Built once (and again on rotation) and shared by every worker: an `SSL_CTX` is safe to use from several
/// threads once configured, and sharing it means one set of session-ticket keys, so a ticket issued by one worker
/// resumes on another. Sessions hold a strong reference to this object, so the callbacks' unretained pointer to
/// it stays valid while any handshake runs.
public final class TLSServerContext: @unchecked Sendable {  // immutable after init; OpenSSL locks SSL_CTX internally for concurrent SSL_new
    let contexts: [OpaquePointer]
    /// Host names per context (lowercased; `*.` wildcards), for SNI.
    private let names: [[String]]
    /// ALPN preference list in wire form (length-prefixed names).
    private let alpnWire: [[UInt8]]
    public let settings: TLSServerSettings

    public init(_ settings: TLSServerSettings) throws(TLSSetupError) {
        precondition(!settings.certificates.isEmpty, "a TLS listener needs a certificate")
        self.settings = settings
        alpnWire = settings.alpn.map { [UInt8($0.utf8.count)] + Array($0.utf8) }
        var contexts: [OpaquePointer] = []
        var names: [[String]] = []
        do throws(TLSSetupError) {
            for (index, files) in settings.certificates.enumerated() {
                guard let ctx = SSL_CTX_new(TLS_server_method()) else {
                    throw TLSSetupError(.context, OpenSSLErrorQueue.message(or: "SSL_CTX_new failed"))
                }
                contexts.append(ctx)
                try TLSContextDefaults.apply(to: ctx, minimumTLS13: settings.minimumTLS13)
                // Send exactly the chain from the PEM file: without this, OpenSSL builds a chain from the trust
                // store on every handshake (a store lookup with locks, for a chain the operator already gave).
                _ = COpenSSL_CTX_set_mode(ctx, Int(SSL_MODE_NO_AUTO_CHAIN))
                names.append(try TLSContextDefaults.useCertificate(files, index: index, in: ctx))
                try Self.configureClientVerification(ctx, settings)
                Self.configureSessions(ctx)
            }
        } catch {
            for ctx in contexts { SSL_CTX_free(ctx) }
            throw error
        }
        self.contexts = contexts
        self.names = names
        let me = Unmanaged.passUnretained(self).toOpaque()
        for ctx in contexts { SSL_CTX_set_alpn_select_cb(ctx, alpnSelectCallback, me) }
        if contexts.count > 1 { COpenSSL_CTX_set_servername_callback(contexts[0], serverNameCallback, me) }
    }

    deinit {
        for ctx in contexts { SSL_CTX_free(ctx) }
    }

    private static func configureClientVerification(_ ctx: OpaquePointer, _ settings: TLSServerSettings) throws(TLSSetupError) {
        guard let caPath = settings.clientCA else { return }
        try TLSContextDefaults.trust(caBundle: caPath, in: ctx)
        // The CA names sent in the CertificateRequest tell the browser which of its certificates to offer.
        OpenSSLErrorQueue.clear()
        guard let list = SSL_load_client_CA_file(caPath) else {
            throw TLSSetupError(.caBundle, "\(caPath): \(OpenSSLErrorQueue.message(or: "no CA names"))")
        }
        SSL_CTX_set_client_CA_list(ctx, list)
        var mode = SSL_VERIFY_PEER
        if settings.requireClientCertificate { mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT }
        SSL_CTX_set_verify(ctx, mode, nil)
    }

    /// Resumption by session tickets only (stateless: nothing grows on the server however many clients come).
    /// One ticket per handshake: browsers use one at a time, and each costs an encryption.
    private static func configureSessions(_ ctx: OpaquePointer) {
        _ = COpenSSL_CTX_set_session_cache_mode(ctx, Int(SSL_SESS_CACHE_OFF))
        _ = SSL_CTX_set_num_tickets(ctx, 1)
        // Required for resumption when client certificates are verified; harmless otherwise.
        let id = Array("grpc-web-proxy".utf8)
        _ = SSL_CTX_set_session_id_context(ctx, id, UInt32(id.count))
    }

    /// The index of the first certificate whose names match `host`; 0 (the default) when none does.
    func certificateIndex(forServerName host: String) -> Int {
        let host = host.lowercased()
        for (index, list) in names.enumerated() where list.contains(where: { X509Inspection.name($0, matches: host) }) {
            return index
        }
        return 0
    }

    /// Our first ALPN protocol that the client also offers, as a pointer into the client's list.
    func selectALPN(clientList: UnsafeBufferPointer<UInt8>) -> (UnsafePointer<UInt8>, UInt8)? {
        for ours in alpnWire {
            var i = 0
            while i < clientList.count {
                let length = Int(clientList[i])
                let end = i + 1 + length
                if end > clientList.count { break }
                if length == ours.count - 1 && clientList[(i + 1)..<end].elementsEqual(ours[1...]) {
                    return (clientList.baseAddress! + i + 1, UInt8(length))
                }
                i = end
            }
        }
        return nil
    }
}

private func serverNameCallback(_ ssl: OpaquePointer?, _ alert: UnsafeMutablePointer<Int32>?, _ arg: UnsafeMutableRawPointer?) -> Int32 {
    guard let ssl, let arg, let name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name) else { return SSL_TLSEXT_ERR_OK }
    let context = Unmanaged<TLSServerContext>.fromOpaque(arg).takeUnretainedValue()
    let index = context.certificateIndex(forServerName: String(cString: name))
    if index > 0 { _ = SSL_set_SSL_CTX(ssl, context.contexts[index]) }
    return SSL_TLSEXT_ERR_OK
}

private func alpnSelectCallback(
    _ ssl: OpaquePointer?, _ out: UnsafeMutablePointer<UnsafePointer<UInt8>?>?, _ outLength: UnsafeMutablePointer<UInt8>?,
    _ list: UnsafePointer<UInt8>?, _ listLength: UInt32, _ arg: UnsafeMutableRawPointer?
) -> Int32 {
    guard let arg, let list else { return SSL_TLSEXT_ERR_NOACK }
    let context = Unmanaged<TLSServerContext>.fromOpaque(arg).takeUnretainedValue()
    // No common protocol: carry on without ALPN (HTTP/1.1 is then implied) rather than fail the handshake.
    guard let (pointer, length) = context.selectALPN(clientList: UnsafeBufferPointer(start: list, count: Int(listLength)))
    else { return SSL_TLSEXT_ERR_NOACK }
    out?.pointee = pointer
    outLength?.pointee = length
    return SSL_TLSEXT_ERR_OK
}
