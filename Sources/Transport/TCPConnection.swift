internal import CProxyLinux
public import EventLoop
import Glibc
public import TLS

/// Events of a `TCPConnection`, delivered on its loop.
public protocol TCPConnectionDelegate: AnyObject {
    /// Outgoing connections only: the non-blocking connect finished.
    func connectionDidConnect(_ connection: TCPConnection)
    /// Bytes read. They live in a buffer shared by the loop: copy what must outlive the call.
    func connectionDidRead(_ connection: TCPConnection, _ bytes: UnsafeRawBufferPointer)
    /// The peer half-closed (read returned 0).
    func connectionDidReadEOF(_ connection: TCPConnection)
    /// Everything queued has been written to the socket (sent after the queue had been non-empty).
    func connectionDidDrainWrites(_ connection: TCPConnection)
    /// The connection closed because of an error or hang-up, or after `closeAfterWrites` finished (`errno` 0 when
    /// none). Not called for `close()`.
    func connectionDidClose(_ connection: TCPConnection, errno: Int32)
    /// TLS connections only: the handshake finished (before any read; outgoing ones before `connectionDidConnect`).
    func connectionDidFinishTLSHandshake(_ connection: TCPConnection)
}

extension TCPConnectionDelegate {
    public func connectionDidFinishTLSHandshake(_ connection: TCPConnection) {}
}

/// One 64 KiB read buffer per loop, shared by every connection on it: an idle connection costs no buffer.
public final class LoopReadBuffer {
    let pointer: UnsafeMutableRawBufferPointer
    public init(size: Int = 64 * 1024) {
        pointer = .allocate(byteCount: size, alignment: 16)
    }
    deinit { pointer.deallocate() }
}

/// A non-blocking TCP socket on one loop, with a contiguous write buffer (bounded by its owners), read pausing,
/// half-close and deferred teardown, in cleartext or over TLS (see TCPConnection+TLS.swift): its users read and
/// write plaintext either way. Loop-confined.
///
/// Ownership: the delegate owns the connection and the connection holds the delegate strongly until it closes;
/// the cycle is broken at close, so an open connection keeps its protocol handler alive without a registry.
public final class TCPConnection: FileEventHandler {
    public let fd: Int32
    public let loop: EventLoop
    public var delegate: (any TCPConnectionDelegate)?
    let readBuffer: LoopReadBuffer

    /// Bytes accepted by `write` and not yet taken by the kernel: `out[outHead...]`. One contiguous buffer, so a
    /// corked write is a memcpy into reserved capacity, not an allocation (several per call otherwise).
    var out: [UInt8] = []
    var outHead = 0
    /// Capacity kept after the buffer drains; more is released so idle connections stay small.
    private static let retainedCapacity = 1024
    public var bufferedBytes: Int { out.count - outHead }
    /// What this connection last reported to `BufferedBytesGauge`.
    private var accountedBytes = 0
    /// Bytes the write buffer can hold without reallocating (tests check that growth stays geometric).
    public var writeBufferCapacity: Int { out.capacity }
    public private(set) var isClosed = false
    var connecting = false
    var readPaused = false
    var closeWhenDrained = false
    private var shutdownWhenDrained = false
    private var writeShut = false
    /// While corked, writes only queue; `uncork` sends everything with one write.
    public private(set) var isCorked = false

    /// `closeLingering` is under way (TCPConnection+Linger.swift).
    var lingering = false
    var lingerTimer: TimerHandle?

    // TLS state (nil/false for cleartext connections); the logic is in TCPConnection+TLS.swift.
    var tls: TLSSession?
    /// Set once the handshake has finished; until then reads drive the handshake and writes only queue.
    var tlsEstablished = false
    /// What the handshake waits for (read or write readiness).
    var tlsHandshakeWants: IOInterest = .read
    /// Server side: the first byte has not been looked at yet (plain HTTP gets an answer instead of a handshake).
    var tlsSniffPending = false
    var tlsAcceptOptions: TLSAcceptOptions?
    var tlsConnectOptions: TLSConnectOptions?
    var tlsHandshakeTimer: TimerHandle?
    /// OpenSSL holds input the socket will not announce again; a zero-delay timer reads it.
    var tlsBufferedReadScheduled = false
    /// SSL_read needed the socket writable (or SSL_write readable): rare, but the interest must follow.
    var tlsReadWantsWrite = false
    var tlsWriteWantsRead = false
    /// Why a TLS connection failed or was refused, for the owner's logs, metrics and error messages.
    public internal(set) var tlsFailure: TLSFailure?
    /// The client certificate, verified, once the handshake is done (listeners with `client_ca`).
    public internal(set) var peerCertificate: TLSPeerCertificate?

    /// Wraps an accepted, already non-blocking socket and starts reading; with `tls`, the TLS handshake first.
    public init(loop: EventLoop, fd: Int32, readBuffer: LoopReadBuffer, tls: TLSAcceptOptions? = nil) {
        self.loop = loop
        self.fd = fd
        self.readBuffer = readBuffer
        loop.register(fd: fd, interest: .read, handler: self)
        if let tls { startServerTLS(tls) }
    }

    private init(loop: EventLoop, connectingFD fd: Int32, readBuffer: LoopReadBuffer) {
        self.loop = loop
        self.fd = fd
        self.readBuffer = readBuffer
        connecting = true
        loop.register(fd: fd, interest: .write, handler: self)
    }

    /// Starts a non-blocking connect; `connectionDidConnect` or `connectionDidClose` follows.
    /// With `tls`, the handshake runs after the TCP connect and `connectionDidConnect` follows the handshake.
    public static func connect(loop: EventLoop, to address: SocketAddress, readBuffer: LoopReadBuffer,
                               delegate: any TCPConnectionDelegate, tls: TLSConnectOptions? = nil) throws -> TCPConnection {
        let fd = CProxyLinux_socket_nonblocking(address.family, Int32(SOCK_STREAM.rawValue))
        guard fd >= 0 else { throw SocketError.syscall("socket", errno) }
        _ = CProxyLinux_set_nodelay(fd)
        let rc = address.withSockaddr { Glibc.connect(fd, $0, $1) }
        if rc != 0 && errno != EINPROGRESS {
            let e = errno
            Glibc.close(fd)
            throw SocketError.syscall("connect \(address)", e)
        }
        let c = TCPConnection(loop: loop, connectingFD: fd, readBuffer: readBuffer)
        c.delegate = delegate
        c.tlsConnectOptions = tls
        return c
    }

    private var interest: IOInterest {
        var i: IOInterest = []
        if connecting { return .write }
        if lingering { return bufferedBytes > 0 ? [.read, .write] : .read }
        if tls != nil {
            if !tlsEstablished { return tlsHandshakeWants }
            if tlsReadWantsWrite { i.insert(.write) }
            if tlsWriteWantsRead { i.insert(.read) }
        }
        if !readPaused { i.insert(.read) }
        if bufferedBytes > 0 { i.insert(.write) }
        return i
    }

    func updateInterest() {
        if !isClosed { loop.setInterest(fd: fd, interest) }
    }

    // MARK: Reading

    public var isReadPaused: Bool { readPaused }

    public func pauseReading() {
        guard !readPaused else { return }
        readPaused = true
        updateInterest()
    }

    public func resumeReading() {
        guard readPaused else { return }
        readPaused = false
        updateInterest()
        if tls != nil { scheduleBufferedTLSReadIfNeeded() }
    }

    public func onReadable() {
        if lingering && lingerRead() { return }
        if tls != nil { tlsReadable(); return }
        // Bounded number of reads per wake-up keeps one fast sender from starving the loop.
        for _ in 0..<4 {
            if isClosed || readPaused || connecting { return }
            let n = read(fd, readBuffer.pointer.baseAddress, readBuffer.pointer.count)
            if n > 0 {
                delegate?.connectionDidRead(self, UnsafeRawBufferPointer(start: readBuffer.pointer.baseAddress, count: n))
                if n < readBuffer.pointer.count { return }
            } else if n == 0 {
                readPaused = true
                updateInterest()
                delegate?.connectionDidReadEOF(self)
                return
            } else {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK { return }
                fail(errno)
                return
            }
        }
    }

    // MARK: Writing

    /// Queues bytes, writing immediately when nothing is queued; copies only what the kernel did not take.
    public func write(_ bytes: UnsafeRawBufferPointer) {
        guard !isClosed, !writeShut, bytes.count > 0 else { return }
        if tls != nil { write(parts: [bytes]); return }
        var offset = 0
        if bufferedBytes == 0 && !connecting && !isCorked {
            let n = sendRaw(bytes.baseAddress!, bytes.count)
            if n < 0 { return }
            offset = n
        }
        if offset < bytes.count {
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[offset...]))
            account()
            if !isCorked { updateInterest() }
        }
    }

    /// Reports the change in queued bytes since the last report to the process-wide gauge.
    @inline(__always) func account() {
        let now = out.count - outHead
        if now != accountedBytes {
            BufferedBytesGauge.add(now - accountedBytes)
            accountedBytes = now
        }
    }

    public func write(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { write($0) }
    }

    /// Writes several pieces with one writev (e.g. chunk header, payload, CRLF).
    public func write(parts: [UnsafeRawBufferPointer]) {
        guard !isClosed, !writeShut else { return }
        var total = 0
        for p in parts { total += p.count }
        if total == 0 { return }
        let queueWasEmpty = bufferedBytes == 0
        var written = 0
        // Over TLS everything goes through the queue, so what leaves in one iteration is sealed by one SSL_write
        // batch into full records instead of a record per piece.
        if bufferedBytes == 0 && !connecting && !isCorked && tls == nil {
            written = withUnsafeTemporaryAllocation(of: iovec.self, capacity: parts.count) { iov -> Int in
                var count = 0
                for p in parts where p.count > 0 {
                    iov[count] = iovec(iov_base: UnsafeMutableRawPointer(mutating: p.baseAddress), iov_len: p.count)
                    count += 1
                }
                while true {
                    let n = writev(fd, iov.baseAddress, Int32(count))
                    if n >= 0 { return n }
                    if errno == EINTR { continue }
                    if errno == EAGAIN || errno == EWOULDBLOCK { return 0 }
                    return -Int(errno)
                }
            }
            if written < 0 { fail(Int32(-written)); return }
        }
        if written == total { return }
        var skip = written
        // Grow geometrically: an exact reserve re-copies the whole queue on every append behind a slow reader.
        let needed = out.count + total - written
        if out.capacity < needed { out.reserveCapacity(max(needed, 2 * out.capacity)) }
        for p in parts {
            if skip >= p.count { skip -= p.count; continue }
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: p[skip...]))
            skip = 0
        }
        account()
        guard !isCorked else { return }
        if tls != nil && queueWasEmpty && !connecting {
            // Like a direct write in cleartext: it goes out now, and the delegate is not called back from inside
            // its own write (only a queue that had to wait for the socket reports draining).
            flushQueue(notifyingDrain: false)
        } else {
            updateInterest()
        }
    }

    /// Holds writes back so several small ones (a response head, a chunk, a trailer) leave in one writev.
    public func cork() {
        isCorked = true
    }

    /// Sends what was queued while corked.
    public func uncork() {
        guard isCorked else { return }
        isCorked = false
        if bufferedBytes > 0 && !connecting && !isClosed && (tls == nil || tlsEstablished) { flushQueue() }
    }

    /// Returns bytes sent (maybe 0), or -1 after failing the connection.
    private func sendRaw(_ p: UnsafeRawPointer, _ count: Int) -> Int {
        while true {
            let n = Glibc.write(fd, p, count)
            if n >= 0 { return n }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK { return 0 }
            fail(errno)
            return -1
        }
    }

    public func onWritable() {
        if connecting {
            connecting = false
            let err = CProxyLinux_socket_error(fd)
            if err != 0 { fail(err); return }
            if let options = tlsConnectOptions {
                startClientTLS(options)
                return
            }
            updateInterest()
            delegate?.connectionDidConnect(self)
            return
        }
        if tls != nil { tlsWritable(); return }
        flushQueue()
    }

    func flushQueue(notifyingDrain: Bool = true) {
        if tls != nil && !tlsEstablished { return }
        while bufferedBytes > 0 && !isClosed {
            if let tls {
                guard writeQueuedOverTLS(tls) else { break }
                continue
            }
            let n = out.withUnsafeBytes { raw in Glibc.write(fd, raw.baseAddress! + outHead, raw.count - outHead) }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK { break }
                fail(errno)
                return
            }
            outHead += n
            if n == 0 { break }
        }
        if isClosed { return }
        account()
        if bufferedBytes == 0 {
            if out.capacity > Self.retainedCapacity { out = [] } else { out.removeAll(keepingCapacity: true) }
            outHead = 0
        } else if outHead >= 64 * 1024 && outHead * 2 >= out.count {
            // A slow reader: drop the written front so the buffer does not grow with everything ever sent.
            out.removeFirst(outHead)
            outHead = 0
        }
        updateInterest()
        if bufferedBytes == 0 {
            if closeWhenDrained {
                let d = delegate
                close()
                d?.connectionDidClose(self, errno: 0)
                return
            }
            if shutdownWhenDrained { shutdownWrite() }
            if notifyingDrain { delegate?.connectionDidDrainWrites(self) }
        }
    }

    public func onHangup() {
        fail(CProxyLinux_socket_error(fd))
    }

    // MARK: Closing

    /// Half-close: FIN after everything queued has been written.
    public func shutdownWrite() {
        guard !isClosed, !writeShut else { return }
        if bufferedBytes > 0 { shutdownWhenDrained = true; return }
        writeShut = true
        if tlsEstablished { tls?.sendCloseNotify() }
        Glibc.shutdown(fd, Int32(SHUT_WR))
    }

    /// Closes once the write queue is empty (responses that end with `Connection: close`).
    public func closeAfterWrites() {
        if bufferedBytes == 0 { close() } else { closeWhenDrained = true; pauseReading() }
    }

    /// Closes now. The delegate is not called; it is released at the end of the loop iteration.
    public func close() {
        close(notifyingTLSPeer: true)
    }

    private func close(notifyingTLSPeer: Bool) {
        guard !isClosed else { return }
        isClosed = true
        if notifyingTLSPeer && tlsEstablished && !writeShut && tlsFailure == nil { tls?.sendCloseNotify() }
        loop.cancelTimer(tlsHandshakeTimer)
        tlsHandshakeTimer = nil
        loop.cancelTimer(lingerTimer)
        lingerTimer = nil
        loop.unregister(fd: fd)
        Glibc.close(fd)
        out = []
        outHead = 0
        account()
        // Release the delegate (and the TLS session, which a callback up the stack may still be using) only after
        // the current callback chain has unwound.
        loop.deferUntilEndOfIteration { [self] in
            self.delegate = nil
            self.tls = nil
        }
    }

    /// Closes with a RST instead of a FIN (SO_LINGER 0): for connections we abandon mid-exchange.
    public func abort() {
        guard !isClosed else { return }
        var l = linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, socklen_t(MemoryLayout<linger>.size))
        close(notifyingTLSPeer: false)
    }

    func fail(_ err: Int32) {
        guard !isClosed else { return }
        let d = delegate
        close()
        d?.connectionDidClose(self, errno: err)
    }
}
