internal import CProxyLinux
public import EventLoop
import Glibc

public enum SocketError: Error, CustomStringConvertible {
    case resolve(String)
    case syscall(String, Int32)
    public var description: String {
        switch self {
        case .resolve(let s): return "cannot resolve \(s)"
        case .syscall(let what, let e): return "\(what): \(String(cString: strerror(e)))"
        }
    }
}

/// A non-blocking listening socket registered on one loop. Every worker binds its own socket to the same
/// address with SO_REUSEPORT, so the kernel spreads incoming connections over the workers.
public final class TCPListener: FileEventHandler {
    public let fd: Int32
    public let loop: EventLoop
    public let localAddress: SocketAddress
    private let onAccept: (Int32, SocketAddress) -> Void
    private var closed = false
    /// Accepting pauses while the process is at its connection limit (accept would just have to close).
    public var paused = false {
        didSet { if !closed { loop.setInterest(fd: fd, paused ? [] : .read) } }
    }

    /// Binds and listens. `address` must already be resolved; the callback gets each accepted non-blocking fd.
    public init(loop: EventLoop, address: SocketAddress, backlog: Int32 = 1024, onAccept: @escaping (Int32, SocketAddress) -> Void) throws {
        let fd = CProxyLinux_socket_nonblocking(address.family, Int32(SOCK_STREAM.rawValue))
        guard fd >= 0 else { throw SocketError.syscall("socket", errno) }
        _ = CProxyLinux_set_reuseport(fd)
        let rc = address.withSockaddr { bind(fd, $0, $1) }
        guard rc == 0 else {
            let e = errno
            Glibc.close(fd)
            throw SocketError.syscall("bind \(address)", e)
        }
        guard listen(fd, backlog) == 0 else {
            let e = errno
            Glibc.close(fd)
            throw SocketError.syscall("listen \(address)", e)
        }
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &storage) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        self.fd = fd
        self.loop = loop
        self.localAddress = SocketAddress(storage: storage, length: len)
        self.onAccept = onAccept
        loop.register(fd: fd, interest: .read, handler: self)
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
                if errno == EINTR || errno == ECONNABORTED { continue }
                return  // EAGAIN, or EMFILE: level-triggered epoll retries later
            }
            _ = CProxyLinux_set_nodelay(cfd)
            onAccept(cfd, SocketAddress(storage: storage, length: len))
            if closed || paused { return }
        }
    }

    public func onWritable() {}
    public func onHangup() {}

    public func close() {
        guard !closed else { return }
        closed = true
        loop.unregister(fd: fd)
        Glibc.close(fd)
    }
}
