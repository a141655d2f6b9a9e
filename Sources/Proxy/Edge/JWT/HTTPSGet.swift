import EventLoop
import TLS
import Transport

/// One `GET` over HTTPS with a size and time limit, on the loop it is started on: enough to fetch a JWKS. Speaks
/// HTTP/1.0 so the body is never chunked and ends with the connection (or at Content-Length).
final class HTTPSGet: TCPConnectionDelegate {
    typealias Completion = (Result<[UInt8], HTTPSGetError>) -> Void

    private let request: [UInt8]
    private let maxBytes: Int
    private var completion: Completion?
    private var connection: TCPConnection?
    private var timer: TimerHandle?
    private var received: [UInt8] = []
    private let loop: EventLoop

    /// Connects to `address` (already resolved), checks the certificate against `url.host`, and calls
    /// `completion` once on `loop` with the 200 response's body or what went wrong.
    static func start(_ url: HTTPSURL, address: SocketAddress, context: TLSClientContext, loop: EventLoop,
                      readBuffer: LoopReadBuffer, maxBytes: Int, timeout: Duration, completion: @escaping Completion) {
        let get = HTTPSGet(url: url, loop: loop, maxBytes: maxBytes, completion: completion)
        get.timer = loop.scheduleTimer(after: timeout) { [get] in get.finish(.failure(HTTPSGetError("no answer within \(timeout)"))) }
        do {
            get.connection = try TCPConnection.connect(
                loop: loop, to: address, readBuffer: readBuffer, delegate: get,
                tls: TLSConnectOptions(context: context, serverName: url.host, requiredProtocol: nil))
        } catch {
            get.finish(.failure(HTTPSGetError("cannot connect to \(address): \(error)")))
        }
    }

    private init(url: HTTPSURL, loop: EventLoop, maxBytes: Int, completion: @escaping Completion) {
        self.loop = loop
        self.maxBytes = maxBytes
        self.completion = completion
        let hostHeader = url.port == 443 ? url.hostForHeader : "\(url.hostForHeader):\(url.port)"
        request = Array("GET \(url.path) HTTP/1.0\r\nHost: \(hostHeader)\r\nAccept: application/json\r\nUser-Agent: grpc-web-proxy\r\n\r\n".utf8)
    }

    private func finish(_ result: Result<[UInt8], HTTPSGetError>) {
        guard let completion else { return }
        self.completion = nil
        loop.cancelTimer(timer)
        connection?.delegate = nil
        connection?.close()
        connection = nil
        completion(result)
    }

    func connectionDidConnect(_ connection: TCPConnection) { connection.write(request) }

    func connectionDidRead(_ connection: TCPConnection, _ bytes: UnsafeRawBufferPointer) {
        received.append(contentsOf: bytes)
        // Room for the response head on top of the body limit.
        if received.count > maxBytes + 16 * 1024 {
            finish(.failure(HTTPSGetError("response larger than \(maxBytes) bytes")))
            return
        }
        if case .complete(let body)? = try? parse(atEOF: false) { finish(.success(body)) }
    }

    func connectionDidReadEOF(_ connection: TCPConnection) { finishAtEOF() }

    func connectionDidDrainWrites(_ connection: TCPConnection) {}

    func connectionDidClose(_ connection: TCPConnection, errno: Int32) {
        if let failure = connection.tlsFailure {
            finish(.failure(HTTPSGetError("TLS: \(failure.message)")))
        } else if received.isEmpty {
            finish(.failure(HTTPSGetError("connection closed (errno \(errno))")))
        } else {
            finishAtEOF()
        }
    }

    private func finishAtEOF() {
        do throws(HTTPSGetError) {
            switch try parse(atEOF: true) {
            case .complete(let body): finish(.success(body))
            case .incomplete: finish(.failure(HTTPSGetError("response ended early")))
            }
        } catch {
            finish(.failure(error))
        }
    }

    private enum Parsed { case complete([UInt8]), incomplete }

    /// The body once the response is whole: at Content-Length, or at EOF without one.
    private func parse(atEOF: Bool) throws(HTTPSGetError) -> Parsed {
        guard let headEnd = Self.find([13, 10, 13, 10], in: received) else {
            if atEOF { throw HTTPSGetError("response has no complete head") }
            return .incomplete
        }
        let head = String(decoding: received[..<headEnd], as: UTF8.self)
        let lines = head.split(separator: "\r\n", omittingEmptySubsequences: false)
        let status = lines.first.map { $0.split(separator: " ", maxSplits: 2) } ?? []
        guard status.count >= 2, status[0].hasPrefix("HTTP/1."), let code = Int(status[1]) else {
            throw HTTPSGetError("not an HTTP response")
        }
        guard code == 200 else { throw HTTPSGetError("HTTP status \(code)") }
        var length: Int?
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].lowercased()
            let value = line[line.index(after: colon)...].trimmingPrefix(" ")
            if name == "content-length" { length = Int(value) }
            if name == "transfer-encoding" { throw HTTPSGetError("unexpected Transfer-Encoding in an HTTP/1.0 answer") }
        }
        let body = Array(received[(headEnd + 4)...])
        if let length {
            if length > maxBytes { throw HTTPSGetError("response larger than \(maxBytes) bytes") }
            if body.count >= length { return .complete(Array(body.prefix(length))) }
            return .incomplete
        }
        if body.count > maxBytes { throw HTTPSGetError("response larger than \(maxBytes) bytes") }
        return atEOF ? .complete(body) : .incomplete
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for i in 0...(haystack.count - needle.count) where haystack[i] == needle[0] && Array(haystack[i..<i + needle.count]) == needle {
            return i
        }
        return nil
    }
}

struct HTTPSGetError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// `https://host[:port]/path`: the parts an HTTPS GET needs.
struct HTTPSURL: Equatable {
    var host: String
    var port: Int
    var path: String

    /// `[v6]` in the Host header.
    var hostForHeader: String { host.contains(":") ? "[\(host)]" : host }

    init(host: String, port: Int, path: String) {
        self.host = host
        self.port = port
        self.path = path
    }

    init?(_ text: String) {
        guard text.hasPrefix("https://") else { return nil }
        let rest = text.dropFirst("https://".count)
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        var authority = rest[..<slash]
        path = slash == rest.endIndex ? "/" : String(rest[slash...])
        if let hash = path.firstIndex(of: "#") { path = String(path[..<hash]) }
        if authority.contains("@") { return nil }
        port = 443
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":"), let p = Int(after.dropFirst()), (1...65535).contains(p) else { return nil }
                port = p
            }
        } else {
            if let colon = authority.lastIndex(of: ":") {
                guard let p = Int(authority[authority.index(after: colon)...]), (1...65535).contains(p) else { return nil }
                port = p
                authority = authority[..<colon]
            }
            host = String(authority)
        }
        if host.isEmpty { return nil }
    }
}
