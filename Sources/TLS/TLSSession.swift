internal import COpenSSL
import Glibc

/// The outcome of one non-blocking TLS operation.
public enum TLSIOResult: Equatable {
    /// Handshake finished (0), or bytes read/written.
    case done(Int)
    /// Call again once the socket is readable.
    case wantRead
    /// Call again once the socket is writable.
    case wantWrite
    /// The peer ended the TLS stream (close_notify, or EOF: see SSL_OP_IGNORE_UNEXPECTED_EOF).
    case closed
    /// A fatal error, with a reason fit for a log line or a grpc-message.
    case failed(String)
}

/// One TLS connection over a non-blocking socket: OpenSSL reads and writes the fd itself (a socket BIO), so
/// ciphertext is never copied through a buffer of ours and a record goes out in the same write() that seals it.
/// Loop-confined, like the `TCPConnection` that owns it.
public final class TLSSession {
    private let ssl: OpaquePointer
    public let isClient: Bool
    /// Keeps the context (and so the callbacks' target) alive for as long as the session.
    private let owner: AnyObject
    public private(set) var handshakeDone = false

    public init(server context: TLSServerContext, fd: Int32) {
        ssl = SSL_new(context.contexts[0])
        isClient = false
        owner = context
        SSL_set_fd(ssl, fd)
        SSL_set_accept_state(ssl)
    }

    /// - Parameters:
    ///   - serverName: the name verified and, unless it is an IP literal, sent as SNI.
    public init(client context: TLSClientContext, fd: Int32, serverName: String) {
        ssl = SSL_new(context.ctx)
        isClient = true
        owner = context
        SSL_set_fd(ssl, fd)
        SSL_set_connect_state(ssl)
        let isIPLiteral = Self.isIPLiteral(serverName)
        if !isIPLiteral { _ = COpenSSL_set_tlsext_host_name(ssl, serverName) }
        if context.settings.verify {
            if isIPLiteral {
                _ = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), serverName)
            } else {
                _ = SSL_set1_host(ssl, serverName)
            }
        }
    }

    deinit { SSL_free(ssl) }

    static func isIPLiteral(_ name: String) -> Bool {
        var v4 = in_addr(), v6 = in6_addr()
        return inet_pton(AF_INET, name, &v4) == 1 || inet_pton(AF_INET6, name, &v6) == 1
    }

    // MARK: Operations

    public func handshake() -> TLSIOResult {
        OpenSSLErrorQueue.clear()
        let rc = SSL_do_handshake(ssl)
        if rc == 1 {
            handshakeDone = true
            return .done(0)
        }
        return outcome(rc, duringHandshake: true)
    }

    /// Reads decrypted bytes into `buffer`, record after record until it is full or the socket is empty.
    public func read(into buffer: UnsafeMutableRawBufferPointer) -> TLSIOResult {
        var total = 0
        while total < buffer.count {
            OpenSSLErrorQueue.clear()
            var n = 0
            let rc = SSL_read_ex(ssl, buffer.baseAddress! + total, buffer.count - total, &n)
            if rc == 1 {
                total += n
                continue
            }
            let result = outcome(rc, duringHandshake: false)
            // Deliver what was read; the end or the error shows up again on the next call.
            if total > 0 && (result == .wantRead || result == .wantWrite || result == .closed) { return .done(total) }
            if total > 0, case .failed = result { return .done(total) }
            return result
        }
        return .done(total)
    }

    /// Encrypts and sends from `bytes`; with partial writes on, returns after each record the kernel took.
    /// After `.wantWrite`, the next call must start with the same bytes (our queue keeps them at its head).
    public func write(_ bytes: UnsafeRawBufferPointer) -> TLSIOResult {
        OpenSSLErrorQueue.clear()
        var n = 0
        let rc = SSL_write_ex(ssl, bytes.baseAddress, bytes.count, &n)
        if rc == 1 { return .done(n) }
        return outcome(rc, duringHandshake: false)
    }

    /// Decrypted or undecrypted bytes OpenSSL holds that the socket will not signal again.
    public var hasBufferedInput: Bool { SSL_has_pending(ssl) == 1 }

    /// Sends close_notify, best effort (no retry: the socket closes right after).
    public func sendCloseNotify() {
        guard handshakeDone else { return }
        OpenSSLErrorQueue.clear()
        _ = SSL_shutdown(ssl)
        OpenSSLErrorQueue.clear()
    }

    // MARK: What was negotiated

    /// The protocol ALPN selected, if any.
    public var negotiatedProtocol: String? {
        var data: UnsafePointer<UInt8>?
        var length: UInt32 = 0
        SSL_get0_alpn_selected(ssl, &data, &length)
        guard let data, length > 0 else { return nil }
        return String(decoding: UnsafeBufferPointer(start: data, count: Int(length)), as: UTF8.self)
    }

    public var protocolVersion: String { String(cString: SSL_get_version(ssl)) }

    /// The peer's certificate if it sent one and it was verified (a server never accepts an unverified one:
    /// verification failures end the handshake).
    public func verifiedPeerCertificate() -> TLSPeerCertificate? {
        guard SSL_get_verify_result(ssl) == X509_V_OK, let cert = SSL_get1_peer_certificate(ssl) else { return nil }
        defer { X509_free(cert) }
        return TLSPeerCertificate(cert)
    }

    // MARK: Errors

    private func outcome(_ rc: Int32, duringHandshake: Bool) -> TLSIOResult {
        let code = SSL_get_error(ssl, rc)
        switch code {
        case SSL_ERROR_WANT_READ: return .wantRead
        case SSL_ERROR_WANT_WRITE: return .wantWrite
        case SSL_ERROR_ZERO_RETURN:
            OpenSSLErrorQueue.clear()
            return duringHandshake ? .failed("connection closed during the TLS handshake") : .closed
        case SSL_ERROR_SYSCALL:
            let e = errno
            let queued = OpenSSLErrorQueue.drain()
            if duringHandshake {
                if e == 0 { return .failed(queued.map { "TLS handshake failed: \($0)" } ?? "connection closed during the TLS handshake") }
                return .failed("TLS handshake failed: \(String(cString: strerror(e)))")
            }
            if e == 0 { return queued.map { .failed("TLS error: \($0)") } ?? .closed }
            return .failed(String(cString: strerror(e)))
        default:
            let verify = SSL_get_verify_result(ssl)
            let queued = OpenSSLErrorQueue.drain()
            if verify != X509_V_OK && (isClient || duringHandshake) && queued?.contains("certificate verify failed") != false {
                return .failed("certificate verify failed: \(String(cString: X509_verify_cert_error_string(verify)))")
            }
            let reason = queued ?? "unknown error"
            return .failed(duringHandshake ? "TLS handshake failed: \(reason)" : "TLS error: \(reason)")
        }
    }
}

/// A verified peer certificate as the proxy reports it (Envoy's x-forwarded-client-cert fields).
public struct TLSPeerCertificate: Sendable, Equatable {
    /// SHA-256 of the DER encoding, lowercase hex.
    public var sha256: String
    /// RFC 2253 form.
    public var subject: String
    public var uris: [String]
    public var dnsNames: [String]

    init(_ cert: OpaquePointer) {
        sha256 = X509Inspection.sha256Hex(cert)
        subject = X509Inspection.subjectRFC2253(cert)
        uris = X509Inspection.alternativeNames(cert, type: GEN_URI)
        dnsNames = X509Inspection.alternativeNames(cert, type: GEN_DNS)
    }

    public init(sha256: String, subject: String, uris: [String], dnsNames: [String]) {
        self.sha256 = sha256
        self.subject = subject
        self.uris = uris
        self.dnsNames = dnsNames
    }
}
