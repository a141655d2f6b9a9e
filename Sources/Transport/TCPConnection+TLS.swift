import EventLoop
import Glibc
public import TLS

/// How an accepted connection on a TLS listener starts.
public struct TLSAcceptOptions {
    public var context: TLSServerContext
    /// The handshake must finish by then, or the connection is closed.
    public var handshakeTimeout: Duration
    /// Sent in cleartext, then the connection closes, when the first byte shows plain HTTP instead of a TLS
    /// record (nginx answers the same way): the owner's protocol writes it, the transport only knows when.
    public var plaintextAnswer: [UInt8]

    public init(context: TLSServerContext, handshakeTimeout: Duration, plaintextAnswer: [UInt8]) {
        self.context = context
        self.handshakeTimeout = handshakeTimeout
        self.plaintextAnswer = plaintextAnswer
    }
}

/// How an outgoing connection runs TLS once connected.
public struct TLSConnectOptions {
    public var context: TLSClientContext
    /// SNI (unless an IP literal) and the name the certificate must carry.
    public var serverName: String
    /// The protocol ALPN must select (e.g. "h2"); the handshake fails otherwise.
    public var requiredProtocol: String?

    public init(context: TLSClientContext, serverName: String, requiredProtocol: String?) {
        self.context = context
        self.serverName = serverName
        self.requiredProtocol = requiredProtocol
    }
}

/// Why a TLS connection ended early.
public struct TLSFailure: Equatable, Sendable {
    public enum Kind: Sendable {
        /// The handshake failed (alert, verification, protocol error, or the peer left).
        case handshake
        case handshakeTimeout
        /// A listener got plain HTTP (answered) or other bytes that are not TLS (closed).
        case notTLS
        /// After the handshake: a bad record or alert.
        case established
    }

    public var kind: Kind
    /// For logs and grpc-message, e.g. "certificate verify failed: hostname mismatch".
    public var message: String
}

/// The TLS mode of `TCPConnection`: OpenSSL drives the socket (see `TLSSession`), and this file turns readiness
/// events into handshake, read and write steps. Users of the connection see the same calls and callbacks as in
/// cleartext: plaintext reads, queued writes flushed once per loop iteration (one SSL_write batch), EOF, close.
extension TCPConnection {
    /// The first byte of every TLS connection: a handshake record (RFC 8446 §5.1, ContentType 22).
    static let tlsHandshakeRecordType: UInt8 = 0x16

    /// The ALPN protocol negotiated, if any ("http/1.1", "h2").
    public var negotiatedProtocol: String? { tlsEstablished ? tls?.negotiatedProtocol : nil }

    /// True while a TLS handshake is under way (not yet finished, not failed).
    public var isTLSHandshaking: Bool { tls != nil && !tlsEstablished && !isClosed }

    public var isTLS: Bool { tls != nil || tlsEstablished }

    func startServerTLS(_ options: TLSAcceptOptions) {
        tls = TLSSession(server: options.context, fd: fd)
        tlsAcceptOptions = options
        tlsSniffPending = true
        tlsHandshakeWants = .read
        // Strong capture: the timer is cancelled when the handshake ends or the connection closes. (A weak
        // reference would give every TLS connection a side table and slower reference counting for its life.)
        tlsHandshakeTimer = loop.scheduleTimer(after: options.handshakeTimeout) { [self] in
            tlsHandshakeTimer = nil
            failTLS(.handshakeTimeout, "TLS handshake timeout after \(options.handshakeTimeout)")
        }
    }

    func startClientTLS(_ options: TLSConnectOptions) {
        tls = TLSSession(client: options.context, fd: fd, serverName: options.serverName)
        driveHandshake()
    }

    // MARK: Readiness

    func tlsReadable() {
        guard let tls, !isClosed else { return }
        if !tlsEstablished {
            if tlsSniffPending && !sniffFirstByte() { return }
            driveHandshake()
            return
        }
        if tlsWriteWantsRead {
            tlsWriteWantsRead = false
            flushQueue()
            if isClosed { return }
        }
        readRecords(tls)
    }

    func tlsWritable() {
        guard let tls, !isClosed else { return }
        if !tlsEstablished {
            driveHandshake()
            return
        }
        if tlsReadWantsWrite {
            tlsReadWantsWrite = false
            readRecords(tls)
            if isClosed { return }
        }
        flushQueue()
        updateInterest()
    }

    // MARK: Handshake

    /// Looks at the first byte without consuming it. Returns false when the connection was answered or closed
    /// instead of starting a handshake.
    private func sniffFirstByte() -> Bool {
        var byte: UInt8 = 0
        let n = recv(fd, &byte, 1, Int32(MSG_PEEK))
        if n < 0 {
            if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { return false }
            fail(errno)
            return false
        }
        if n == 0 {
            // Connected and left without a byte (a TCP health probe, a port scan): not a failed handshake.
            fail(0)
            return false
        }
        tlsSniffPending = false
        if byte == Self.tlsHandshakeRecordType { return true }
        let isLetter = (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
        if isLetter, let answer = tlsAcceptOptions?.plaintextAnswer, !answer.isEmpty {
            answerPlaintextAndClose(answer)
        } else {
            failTLS(.notTLS, "not a TLS connection (first byte 0x\(String(byte, radix: 16)))")
        }
        return false
    }

    /// Plain HTTP on a TLS port: drop to cleartext, take what the client sent, write the answer and close without
    /// a RST that could destroy it (`closeLingering`).
    private func answerPlaintextAndClose(_ answer: [UInt8]) {
        loop.cancelTimer(tlsHandshakeTimer)
        tlsHandshakeTimer = nil
        tlsFailure = TLSFailure(kind: .notTLS, message: "plain HTTP on a TLS port")
        tls = nil
        _ = read(fd, readBuffer.pointer.baseAddress, readBuffer.pointer.count)
        write(answer)
        closeLingering()
    }

    func driveHandshake() {
        guard let tls, !isClosed else { return }
        switch tls.handshake() {
        case .done:
            tlsEstablished = true
            loop.cancelTimer(tlsHandshakeTimer)
            tlsHandshakeTimer = nil
            if let required = tlsConnectOptions?.requiredProtocol, tls.negotiatedProtocol != required {
                failTLS(.handshake, "no \(required) in ALPN (the server selected \(tls.negotiatedProtocol.map { "\"\($0)\"" } ?? "none"))")
                return
            }
            if tlsAcceptOptions?.context.settings.clientCA != nil { peerCertificate = tls.verifiedPeerCertificate() }
            tlsAcceptOptions = nil
            updateInterest()
            delegate?.connectionDidFinishTLSHandshake(self)
            if isClosed { return }
            if tlsConnectOptions != nil {
                tlsConnectOptions = nil
                delegate?.connectionDidConnect(self)
                if isClosed { return }
            }
            if bufferedBytes > 0 && !isCorked { flushQueue() }
            // Application data may have come in behind the peer's Finished.
            if !isClosed && !readPaused { readRecords(tls) }
        case .wantRead:
            tlsHandshakeWants = .read
            updateInterest()
        case .wantWrite:
            tlsHandshakeWants = .write
            updateInterest()
        case .closed:
            failTLS(.handshake, "connection closed during the TLS handshake")
        case .failed(let reason):
            failTLS(.handshake, reason)
        }
    }

    // MARK: Data

    /// Reads and delivers decrypted bytes, a bounded number of buffers per wake-up (like cleartext reads).
    private func readRecords(_ tls: TLSSession) {
        for _ in 0..<4 {
            if isClosed || readPaused { return }
            switch tls.read(into: readBuffer.pointer) {
            case .done(let n):
                if n > 0 {
                    delegate?.connectionDidRead(self, UnsafeRawBufferPointer(start: readBuffer.pointer.baseAddress, count: n))
                }
                if n < readBuffer.pointer.count && !tls.hasDeferredEnd { return }
            case .wantRead:
                return
            case .wantWrite:
                tlsReadWantsWrite = true
                updateInterest()
                return
            case .closed:
                readPaused = true
                updateInterest()
                delegate?.connectionDidReadEOF(self)
                return
            case .failed(let reason):
                failTLS(.established, reason)
                return
            }
        }
        scheduleBufferedTLSReadIfNeeded()
    }

    /// OpenSSL may hold records it read ahead; epoll will not report them, so read them on the next iteration.
    func scheduleBufferedTLSReadIfNeeded() {
        guard let tls, tlsEstablished, !isClosed, !readPaused, !tlsBufferedReadScheduled, tls.hasBufferedInput else { return }
        tlsBufferedReadScheduled = true
        // Strong capture (see startServerTLS): it fires on the next iteration anyway.
        _ = loop.scheduleTimer(afterNanos: 0) { [self] in
            tlsBufferedReadScheduled = false
            if let session = self.tls, !isClosed, !readPaused { readRecords(session) }
        }
    }

    /// One SSL_write of the queue's head (OpenSSL seals it into records and writes them until the socket is
    /// full). Returns false when the socket cannot take more now or the connection failed.
    func writeQueuedOverTLS(_ tls: TLSSession) -> Bool {
        let result = out.withUnsafeBytes { raw in tls.write(UnsafeRawBufferPointer(rebasing: raw[outHead...])) }
        switch result {
        case .done(let n):
            outHead += n
            return n > 0
        case .wantWrite:
            return false
        case .wantRead:
            tlsWriteWantsRead = true
            return false
        case .closed:
            failTLS(.established, "the peer closed the TLS connection")
            return false
        case .failed(let reason):
            // A peer that rejects us with an alert and closes at once turns our next write into ECONNRESET
            // while the alert still waits unread: report the alert, not the reset.
            failTLS(.established, tls.pendingAlert() ?? reason)
            return false
        }
    }

    /// The server asked for a client certificate during the handshake and none was configured.
    public var tlsServerRequestedClientCertificate: Bool { tls?.serverRequestedClientCertificate ?? false }

    // MARK: Failure

    func failTLS(_ kind: TLSFailure.Kind, _ message: String) {
        guard !isClosed else { return }
        tlsFailure = TLSFailure(kind: kind, message: message)
        fail(EPROTO)
    }
}
