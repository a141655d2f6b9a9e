internal import CProxyLinux
public import EventLoop
import Glibc

public enum SocketError: Error, CustomStringConvertible {
    case resolve(String)
    case syscall(String, Int32)
    /// EADDRINUSE on a listening address.
    case addressInUse(String)
    public var description: String {
        switch self {
        case .resolve(let s): return "cannot resolve \(s)"
        case .addressInUse(let address):
            return "\(address) is already in use (another process, perhaps a second grpc-web-proxy, is listening on it)"
        case .syscall(let what, let e): return "\(what): \(String(cString: strerror(e)))"
        }
    }
}

/// How a listening socket shares its port with other sockets.
public enum PortSharing: Sendable {
    /// No SO_REUSEPORT at all (the admin endpoint: one socket).
    case exclusive
    /// The first socket of a SO_REUSEPORT group: bound *without* SO_REUSEPORT, so the bind fails with EADDRINUSE
    /// when anything (a second instance of this proxy included) already has the address; SO_REUSEPORT is set
    /// right after the bind so this process's other workers can join. Setting it only on every socket would let
    /// a second instance start cleanly and silently take half of the connections.
    case firstOfGroup
    /// A further socket of this process's group (SO_REUSEPORT before bind).
    case joinGroup
}

/// A non-blocking listening socket registered on one loop. Every worker binds its own socket to the same
/// address with SO_REUSEPORT, so the kernel spreads incoming connections over the workers.
///
/// At the open-file limit (EMFILE/ENFILE) accept fails while the connection stays queued, and level-triggered
/// epoll would report the socket readable on every iteration: a busy loop doing nothing. Instead the listener
/// gives up its reserve descriptor to accept-and-close what is queued (those clients see a close at once instead
/// of hanging), takes the reserve back, and stops watching the socket for `acceptRetryDelay`.
public final class TCPListener: FileEventHandler {
    public let fd: Int32
    public let loop: EventLoop
    public let localAddress: SocketAddress
    private let onAccept: (Int32, SocketAddress) -> Void
    private var closed = false
    /// Accepting pauses while the process is at its connection limit (accept would just have to close).
    public var paused = false {
        didSet { updateInterest() }
    }
    /// Waiting out a resource shortage (see the type comment).
    private var backingOff = false
    private var backoffTimer: TimerHandle?
    /// An open descriptor held only to be closed when the process is out of descriptors; -1 while lent out.
    private var reserveFD: Int32 = -1
    /// How long accepting stops after EMFILE/ENFILE and similar failures.
    public static let acceptRetryDelay = Duration.milliseconds(100)
    /// Shortage warnings are rate-limited: one line per interval, with what happened since the last one.
    private static let warnInterval: UInt64 = 10_000_000_000
    private var lastWarnAt: UInt64 = 0
    private var shedSinceWarn = 0
    /// Connections accepted and closed at once because the process was out of descriptors.
    public private(set) var shedConnections = 0

    /// Binds and listens. `address` must already be resolved; the callback gets each accepted non-blocking fd.
    public init(loop: EventLoop, address: SocketAddress, sharing: PortSharing = .joinGroup, backlog: Int32 = 1024,
                onAccept: @escaping (Int32, SocketAddress) -> Void) throws {
        let fd = CProxyLinux_socket_nonblocking(address.family, Int32(SOCK_STREAM.rawValue))
        guard fd >= 0 else { throw SocketError.syscall("socket", errno) }
        func failure(_ what: String) -> SocketError {
            let e = errno
            Glibc.close(fd)
            if e == EADDRINUSE { return .addressInUse(address.description) }
            return .syscall("\(what) \(address)", e)
        }
        switch sharing {
        case .exclusive, .firstOfGroup: _ = CProxyLinux_set_reuseaddr(fd)
        case .joinGroup: _ = CProxyLinux_set_reuseport(fd)
        }
        let rc = address.withSockaddr { bind(fd, $0, $1) }
        guard rc == 0 else { throw failure("bind") }
        if sharing == .firstOfGroup && CProxyLinux_set_reuseport_only(fd) != 0 { throw failure("SO_REUSEPORT") }
        guard listen(fd, backlog) == 0 else { throw failure("listen") }
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &storage) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        self.fd = fd
        self.loop = loop
        self.localAddress = SocketAddress(storage: storage, length: len)
        self.onAccept = onAccept
        reserveFD = TCPListener.openReserve()
        loop.register(fd: fd, interest: .read, handler: self)
    }

    private static func openReserve() -> Int32 {
        open("/dev/null", O_RDONLY | O_CLOEXEC)
    }

    private func updateInterest() {
        if !closed { loop.setInterest(fd: fd, paused || backingOff ? [] : .read) }
    }

    public func onReadable() {
        // Accept a bounded batch per wake-up so one busy listener cannot starve the loop.
        for _ in 0..<64 {
            var storage = sockaddr_storage()
            var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let cfd = withUnsafeMutablePointer(to: &storage) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) { CProxyLinux_accept4(fd, $0, &len) }
            }
            if cfd < 0 {
                let e = errno
                if e == EINTR || e == ECONNABORTED { continue }
                if e == EAGAIN || e == EWOULDBLOCK { return }
                backOff(after: e)
                return
            }
            _ = CProxyLinux_set_nodelay(cfd)
            onAccept(cfd, SocketAddress(storage: storage, length: len))
            if closed || paused { return }
        }
    }

    /// Accept failed for lack of a resource (descriptors, kernel memory) or for a reason retrying at once cannot
    /// fix: stop watching the socket for a moment instead of waking on it again and again.
    private func backOff(after error: Int32) {
        var shed = 0
        if error == EMFILE || error == ENFILE {
            if reserveFD >= 0 {
                Glibc.close(reserveFD)
                reserveFD = -1
            }
            // The freed slot takes one queued connection at a time; closing each frees the slot again.
            for _ in 0..<1024 {
                let cfd = CProxyLinux_accept4(fd, nil, nil)
                if cfd < 0 { break }
                Glibc.close(cfd)
                shed += 1
            }
            reserveFD = TCPListener.openReserve()  // fails (-1) if another thread took the slot; retried next time
            shedConnections += shed
        }
        shedSinceWarn += shed
        let now = loop.now
        if lastWarnAt == 0 || now &- lastWarnAt >= TCPListener.warnInterval {
            Log.warn("listener", "accept on \(localAddress) failed: \(String(cString: strerror(error))); pausing accepts for "
                + "\(TCPListener.acceptRetryDelay), \(shedSinceWarn) queued connection(s) closed for lack of descriptors")
            lastWarnAt = now
            shedSinceWarn = 0
        }
        backingOff = true
        updateInterest()
        backoffTimer = loop.scheduleTimer(after: TCPListener.acceptRetryDelay) { [self] in
            backoffTimer = nil
            backingOff = false
            updateInterest()
        }
    }

    public func onWritable() {}
    public func onHangup() {}

    public func close() {
        guard !closed else { return }
        closed = true
        loop.cancelTimer(backoffTimer)
        backoffTimer = nil
        loop.unregister(fd: fd)
        Glibc.close(fd)
        if reserveFD >= 0 { Glibc.close(reserveFD) }
        reserveFD = -1
    }
}
