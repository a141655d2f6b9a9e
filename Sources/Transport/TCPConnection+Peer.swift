import Glibc

extension TCPConnection {
    /// The peer's address as `host:port` (`[::1]:port` for IPv6), from getpeername; "" if the socket has none.
    /// A syscall: callers keep the answer (once per connection).
    public func peerAddressText() -> String {
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &len) }
        }
        guard rc == 0 else { return "" }
        return SocketAddress(storage: storage, length: len).description
    }
}
