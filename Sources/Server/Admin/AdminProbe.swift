import Config
import Glibc

/// `grpc-web-proxy --probe 127.0.0.1:9901/ready`: one blocking `GET` to an admin path; exit 0 on a 2xx status,
/// 1 otherwise. It lets a Kubernetes `exec` probe check an admin endpoint bound to loopback: an `httpGet` probe
/// comes from the kubelet to the pod IP, which would force the endpoint onto an address every other pod can
/// reach. The container image has no curl, and needs none.
public func probeAdmin(_ target: String, timeout: Duration = .seconds(2)) -> Int32 {
    func failed(_ message: String) -> Int32 {
        var line = Array("grpc-web-proxy --probe \(target): \(message)\n".utf8)
        _ = line.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
        return 1
    }
    var rest = Substring(target)
    if rest.hasPrefix("http://") { rest = rest.dropFirst("http://".count) }
    let slash = rest.firstIndex(of: "/") ?? rest.endIndex
    let path = slash == rest.endIndex ? "/ready" : String(rest[slash...])
    let address: SocketAddressSpec
    do {
        address = try SocketAddressSpec(parsing: String(rest[..<slash]))
    } catch {
        return failed(error.message + " (expected HOST:PORT/PATH, e.g. 127.0.0.1:9901/ready)")
    }
    guard path.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return failed("invalid path") }

    var hints = addrinfo()
    hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
    var list: UnsafeMutablePointer<addrinfo>?
    guard getaddrinfo(address.host, String(address.port), &hints, &list) == 0, let info = list else {
        return failed("cannot resolve \(address.host)")
    }
    defer { freeaddrinfo(info) }
    let fd = socket(info.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { return failed("socket: \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    // Linux applies SO_SNDTIMEO to connect as well, so no step can hang the probe.
    var tv = timeval(tv_sec: Int(timeout.components.seconds), tv_usec: Int(timeout.components.attoseconds / 1_000_000_000_000))
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    guard connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 else {
        return failed("connect \(address): \(String(cString: strerror(errno)))")
    }
    let request = Array("GET \(path) HTTP/1.1\r\nHost: \(address)\r\nConnection: close\r\n\r\n".utf8)
    guard request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == request.count else {
        return failed("send: \(String(cString: strerror(errno)))")
    }
    // Only the status line matters: "HTTP/1.1 200 OK".
    var response: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 512)
    while response.count < 512 && !response.contains(UInt8(ascii: "\n")) {
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { break }
        response += chunk[0..<n]
    }
    let statusLine = String(decoding: response.prefix { $0 != UInt8(ascii: "\r") && $0 != UInt8(ascii: "\n") }, as: UTF8.self)
    let parts = statusLine.split(separator: " ")
    guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]) else {
        return failed("no HTTP answer (\(statusLine.isEmpty ? "connection closed or timed out" : statusLine))")
    }
    print(statusLine)
    return (200..<300).contains(status) ? 0 : failed(statusLine)
}
