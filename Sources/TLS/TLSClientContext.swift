internal import COpenSSL

/// What TLS to an upstream cluster needs, as file paths.
public struct TLSClientSettings: Sendable, Equatable {
    /// CA bundle for server certificates; nil = the system trust store.
    public var caBundle: String?
    public var clientCertificate: TLSCertificateFiles?
    public var verify: Bool
    /// ALPN offered; the first one must be selected by the server (e.g. ["h2"]).
    public var alpn: [String]

    public init(caBundle: String? = nil, clientCertificate: TLSCertificateFiles? = nil, verify: Bool = true,
                alpn: [String] = ["h2"]) {
        self.caBundle = caBundle
        self.clientCertificate = clientCertificate
        self.verify = verify
        self.alpn = alpn
    }
}

/// The OpenSSL context of one upstream cluster, shared by every worker (see `TLSServerContext` on sharing).
public final class TLSClientContext: @unchecked Sendable {  // immutable after init; OpenSSL locks SSL_CTX internally for concurrent SSL_new
    let ctx: OpaquePointer
    public let settings: TLSClientSettings

    public init(_ settings: TLSClientSettings) throws(TLSSetupError) {
        self.settings = settings
        guard let ctx = SSL_CTX_new(TLS_client_method()) else {
            throw TLSSetupError(.context, OpenSSLErrorQueue.message(or: "SSL_CTX_new failed"))
        }
        do throws(TLSSetupError) {
            try TLSContextDefaults.apply(to: ctx, minimumTLS13: false)
            if settings.verify {
                SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nil)
                if let ca = settings.caBundle {
                    try TLSContextDefaults.trust(caBundle: ca, in: ctx)
                } else if SSL_CTX_set_default_verify_paths(ctx) != 1 {
                    throw TLSSetupError(.caBundle, "the system trust store could not be loaded: \(OpenSSLErrorQueue.message(or: "unknown reason"))")
                }
            } else {
                SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nil)
            }
            if let files = settings.clientCertificate {
                try TLSContextDefaults.useCertificate(files, index: 0, in: ctx)
            }
            var wire: [UInt8] = []
            for name in settings.alpn { wire.append(UInt8(name.utf8.count)); wire.append(contentsOf: name.utf8) }
            // Unlike most OpenSSL calls, 0 means success here.
            if !wire.isEmpty && SSL_CTX_set_alpn_protos(ctx, wire, UInt32(wire.count)) != 0 {
                throw TLSSetupError(.context, "ALPN list refused")
            }
            _ = COpenSSL_CTX_set_session_cache_mode(ctx, Int(SSL_SESS_CACHE_OFF))
            // Called only when the server asks for a certificate and none is configured: noted on the session, so
            // a server that then hangs up (TLS 1.3 servers check it after our handshake is done) can be explained.
            if settings.clientCertificate == nil { SSL_CTX_set_client_cert_cb(ctx, clientCertificateRequested) }
        } catch {
            SSL_CTX_free(ctx)
            throw error
        }
        self.ctx = ctx
    }

    deinit { SSL_CTX_free(ctx) }
}

private func clientCertificateRequested(_ ssl: OpaquePointer?, _ cert: UnsafeMutablePointer<OpaquePointer?>?,
                                        _ key: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    if let ssl, let session = COpenSSL_get_app_data(ssl) {
        Unmanaged<TLSSession>.fromOpaque(session).takeUnretainedValue().serverRequestedClientCertificate = true
    }
    return 0  // no certificate: the handshake goes on without one
}
