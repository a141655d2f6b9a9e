internal import Glibc

/// The listening addresses of a config (listeners and admin), to find two that would bind the same socket.
/// Comparing the text is not enough: `localhost:8080` and `127.0.0.1:8080` are the same socket, and
/// `0.0.0.0:8080` takes port 8080 on every IPv4 address. With SO_REUSEPORT the kernel would let the second bind
/// succeed and split connections between them, so the overlap has to be found here.
struct ListenAddressSet {
    /// One IP address a listener binds, as the kernel sees it.
    struct BoundIP: Equatable {
        var family: Int32
        /// 4 or 16 bytes.
        var bytes: [UInt8]

        var isWildcard: Bool { bytes.allSatisfy { $0 == 0 } }
        var text: String {
            var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            return bytes.withUnsafeBytes { raw in
                inet_ntop(family, raw.baseAddress, &buffer, socklen_t(buffer.count)) == nil
                    ? "?" : String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            }
        }

        /// Whether binding both on one port conflicts. Linux IPv6 sockets are dual-stack unless IPV6_V6ONLY is
        /// set (the proxy does not set it), so `[::]` also takes every IPv4 address; `0.0.0.0` takes every IPv4
        /// address but no IPv6 one.
        func overlaps(_ other: BoundIP) -> Bool {
            if self == other { return true }
            let ipv6 = Int32(AF_INET6)
            if (family == ipv6 && isWildcard) || (other.family == ipv6 && other.isWildcard) { return true }
            return family == other.family && (isWildcard || other.isWildcard)
        }
    }

    struct Clash {
        /// The earlier address and the key path that declared it.
        var address: SocketAddressSpec
        var owner: String
        /// Same host text (a plain duplicate) rather than an overlap found by resolving.
        var sameText: Bool
        /// Why they overlap, e.g. "both are 127.0.0.1".
        var reason: String
    }

    private var entries: [(address: SocketAddressSpec, owner: String, ips: [BoundIP]?)] = []

    /// The first earlier address `address` would collide with. Port 0 never collides (each bind picks its own).
    func clash(with address: SocketAddressSpec) -> Clash? {
        guard address.port != 0 else { return nil }
        let ips = ListenAddressSet.resolve(address.host)
        for entry in entries where entry.address.port == address.port {
            if entry.address.host.lowercased() == address.host.lowercased() {
                return Clash(address: entry.address, owner: entry.owner, sameText: true, reason: "same address")
            }
            // A host that does not resolve here fails at start with its own error; only the text can be compared.
            guard let ips, let earlier = entry.ips else { continue }
            for a in ips {
                for b in earlier where a.overlaps(b) {
                    return Clash(address: entry.address, owner: entry.owner, sameText: false, reason: ListenAddressSet.reason(a, b))
                }
            }
        }
        return nil
    }

    mutating func insert(_ address: SocketAddressSpec, owner: String) {
        guard address.port != 0 else { return }
        entries.append((address, owner, ListenAddressSet.resolve(address.host)))
    }

    private static func reason(_ a: BoundIP, _ b: BoundIP) -> String {
        if a == b { return "both bind \(a.text)" }
        let wildcard = a.isWildcard ? a : b
        let other = a.isWildcard ? b : a
        let scope = wildcard.family == Int32(AF_INET6) ? "every IPv4 and IPv6 address" : "every IPv4 address"
        return "\(wildcard.text) listens on \(scope), \(other.text) included"
    }

    /// The addresses a passive bind of `host` may use (the server binds the first; all are checked, as DNS order
    /// may change). nil when the name does not resolve.
    static func resolve(_ host: String) -> [BoundIP]? {
        var hints = addrinfo()
        hints.ai_flags = AI_PASSIVE
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &list) == 0, let first = list else { return nil }
        defer { freeaddrinfo(first) }
        var result: [BoundIP] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let info = cursor {
            if let addr = info.pointee.ai_addr {
                var ip: BoundIP?
                if info.pointee.ai_family == AF_INET {
                    ip = addr.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { sin in
                        withUnsafeBytes(of: sin.pointee.sin_addr) { BoundIP(family: Int32(AF_INET), bytes: Array($0)) }
                    }
                } else if info.pointee.ai_family == AF_INET6 {
                    ip = addr.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { sin6 in
                        withUnsafeBytes(of: sin6.pointee.sin6_addr) { BoundIP(family: Int32(AF_INET6), bytes: Array($0)) }
                    }
                }
                if let ip, !result.contains(ip) { result.append(ip) }
            }
            cursor = info.pointee.ai_next
        }
        return result
    }
}
