internal import COpenSSL

/// Settings every context shares, browser-facing or upstream: current best practice for TLS 1.2 and 1.3.
enum TLSContextDefaults {
    /// TLS 1.2 suites: ECDHE key exchange and AEAD ciphers only (forward secrecy, no CBC). TLS 1.3's suites are all
    /// AEAD and keep OpenSSL's default order.
    static let tls12Ciphers =
        "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
        + "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
    static let groups = "X25519:P-256:P-384"

    /// Applies the shared settings to a new context.
    static func apply(to ctx: OpaquePointer, minimumTLS13: Bool) throws(TLSSetupError) {
        OpenSSLErrorQueue.clear()
        guard COpenSSL_CTX_set_min_proto_version(ctx, minimumTLS13 ? TLS1_3_VERSION : TLS1_2_VERSION) == 1,
              SSL_CTX_set_cipher_list(ctx, tls12Ciphers) == 1,
              COpenSSL_CTX_set1_groups_list(ctx, groups) == 1
        else { throw TLSSetupError(.context, OpenSSLErrorQueue.message(or: "OpenSSL refused the TLS settings")) }
        // No renegotiation (a CPU-exhaustion lever and never needed by browsers or gRPC); an EOF without
        // close_notify reads as an ordinary end of stream (browsers and gRPC servers do that all the time).
        SSL_CTX_set_options(ctx, COpenSSL_secure_options())
        // RELEASE_BUFFERS: an idle connection holds no 16 KiB+ record buffers. PARTIAL_WRITE and MOVING_WRITE_BUFFER:
        // SSL_write takes what it can record by record from our write queue, whose storage may move between calls.
        _ = COpenSSL_CTX_set_mode(ctx, Int(SSL_MODE_RELEASE_BUFFERS) | Int(SSL_MODE_ENABLE_PARTIAL_WRITE)
                                       | Int(SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER))
        // Read ahead: one read() takes every record the kernel has, instead of a header read and a body read each.
        COpenSSL_CTX_set_read_ahead(ctx, 1)
    }

    /// Loads `cert` (a PEM chain, leaf first) and `key` into `ctx`, checking that they match and that the leaf has
    /// not expired. Returns the leaf's host names (for SNI selection).
    @discardableResult
    static func useCertificate(_ files: TLSCertificateFiles, index: Int, in ctx: OpaquePointer) throws(TLSSetupError) -> [String] {
        let chain = try PEMFile.certificates(files.cert, input: .certificate(index: index))
        let leaf = chain[0]
        defer { X509_free(leaf) }
        if X509Inspection.isExpired(leaf) {
            for extra in chain.dropFirst() { X509_free(extra) }
            throw TLSSetupError(.certificate(index: index), "certificate expired: \(files.cert)")
        }
        OpenSSLErrorQueue.clear()
        guard SSL_CTX_use_certificate(ctx, leaf) == 1 else {
            for extra in chain.dropFirst() { X509_free(extra) }
            throw TLSSetupError(.certificate(index: index), "\(files.cert): \(OpenSSLErrorQueue.message(or: "certificate refused"))")
        }
        for extra in chain.dropFirst() where COpenSSL_CTX_add_extra_chain_cert(ctx, extra) != 1 {
            // On failure the context did not take ownership.
            X509_free(extra)
        }
        let key = try PEMFile.privateKey(files.key, input: .key(index: index))
        defer { EVP_PKEY_free(key) }
        OpenSSLErrorQueue.clear()
        guard SSL_CTX_use_PrivateKey(ctx, key) == 1, SSL_CTX_check_private_key(ctx) == 1 else {
            throw TLSSetupError(.key(index: index),
                                "\(files.key) does not match the certificate \(files.cert): \(OpenSSLErrorQueue.message(or: "key refused"))")
        }
        return X509Inspection.hostNames(leaf)
    }

    /// Trusts the CA certificates in `path` for verifying peers.
    static func trust(caBundle path: String, in ctx: OpaquePointer) throws(TLSSetupError) {
        // Read it ourselves first for a clear "cannot read" message, then let OpenSSL parse it.
        let certs = try PEMFile.certificates(path, input: .caBundle)
        for cert in certs { X509_free(cert) }
        OpenSSLErrorQueue.clear()
        guard SSL_CTX_load_verify_locations(ctx, path, nil) == 1 else {
            throw TLSSetupError(.caBundle, "\(path): \(OpenSSLErrorQueue.message(or: "unreadable CA bundle"))")
        }
    }
}

/// A certificate chain file and its key file.
public struct TLSCertificateFiles: Sendable, Equatable {
    public var cert: String
    public var key: String
    public init(cert: String, key: String) {
        self.cert = cert
        self.key = key
    }
}
