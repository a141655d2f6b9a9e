import Glibc

/// An IPv4 or IPv6 socket address (storage + length), resolved with getaddrinfo.
public struct SocketAddress: Sendable, CustomStringConvertible {
    var storage: sockaddr_storage
    var length: socklen_t

    public var family: Int32 { Int32(storage.ss_family) }

    init(storage: sockaddr_storage, length: socklen_t) {
        self.storage = storage
        self.length = length
    }

    /// Resolves `host` (an IP literal or a DNS name; brackets around IPv6 allowed) to every address it has.
    /// Blocking: call at startup or from a resolver thread, never on a busy loop.
    public static func resolve(host: String, port: Int, passive: Bool = false) -> [SocketAddress] {
        var h = host
        if h.hasPrefix("[") && h.hasSuffix("]") { h = String(h.dropFirst().dropLast()) }
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        if passive { hints.ai_flags = AI_PASSIVE }
        var result: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(h.isEmpty ? nil : h, String(port), &hints, &result)
        guard rc == 0, let first = result else { return [] }
        defer { freeaddrinfo(first) }
        var out: [SocketAddress] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let ai = cursor {
            if let sa = ai.pointee.ai_addr {
                var storage = sockaddr_storage()
                withUnsafeMutableBytes(of: &storage) { dst in
                    dst.copyMemory(from: UnsafeRawBufferPointer(start: sa, count: Int(ai.pointee.ai_addrlen)))
                }
                let addr = SocketAddress(storage: storage, length: ai.pointee.ai_addrlen)
                if !out.contains(where: { $0.description == addr.description }) { out.append(addr) }
            }
            cursor = ai.pointee.ai_next
        }
        return out
    }

    public var port: Int {
        var s = storage
        return withUnsafePointer(to: &s) { p in
            p.withMemoryRebound(to: UInt8.self, capacity: MemoryLayout<sockaddr_storage>.size) { _ in
                if family == AF_INET {
                    return p.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) }
                } else {
                    return p.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin6_port)) }
                }
            }
        }
    }

    /// The numeric host without port or brackets ("127.0.0.1", "::1").
    public var host: String {
        let text = description
        let withoutPort = text[..<(text.lastIndex(of: ":") ?? text.endIndex)]
        return String(withoutPort.hasPrefix("[") ? withoutPort.dropFirst().dropLast() : withoutPort)
    }

    public var description: String {
        var s = storage
        var buf = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        let host: String = withUnsafePointer(to: &s) { p in
            if family == AF_INET {
                return p.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { sin in
                    var a = sin.pointee.sin_addr
                    inet_ntop(AF_INET, &a, &buf, socklen_t(buf.count))
                    return String(cString: buf)
                }
            } else {
                return p.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { sin in
                    var a = sin.pointee.sin6_addr
                    inet_ntop(AF_INET6, &a, &buf, socklen_t(buf.count))
                    return "[" + String(cString: buf) + "]"
                }
            }
        }
        return "\(host):\(port)"
    }

    func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        var s = storage
        return withUnsafePointer(to: &s) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, length) }
        }
    }
}
