import EventLoop
import Glibc
import Synchronization
import TLS
import Transport
import XCTest

/// `TCPConnection` in TLS mode against itself on one loop: real handshakes, records and close_notify, through the
/// same calls the proxy's protocols use.
final class TLSConnectionTests: XCTestCase {
    static let certs = LoopbackCertificates()

    override class func setUp() {
        // The proxy ignores SIGPIPE at start; a test process must too, or a write to a peer that has gone (which
        // OpenSSL does on the socket itself) kills it.
        signal(SIGPIPE, SIG_IGN)
    }

    /// Starts a TLS listener whose connections echo what they read; returns its port.
    private func startEchoListener(on loop: EventLoop, timeout: Duration = .seconds(5), plaintextAnswer: [UInt8] = [],
                                   failures: Recorder<String>? = nil) -> Int {
        let port = Atomic<Int>(0)
        let certs = Self.certs
        loop.execute {
            let context = try! TLSServerContext(TLSServerSettings(
                certificates: [TLSCertificateFiles(cert: certs.path("server.pem"), key: certs.path("server.key"))]))
            let buffer = LoopReadBuffer()
            let addr = SocketAddress.resolve(host: "127.0.0.1", port: 0, passive: true)[0]
            let listener = try! TCPListener(loop: loop, address: addr) { fd, _ in
                let echo = EchoHandler()
                echo.failures = failures
                let c = TCPConnection(loop: loop, fd: fd, readBuffer: buffer,
                                      tls: TLSAcceptOptions(context: context, handshakeTimeout: timeout, plaintextAnswer: plaintextAnswer))
                c.delegate = echo
                KeepAlive.objects.append(c)
            }
            KeepAlive.objects.append(listener)
            port.store(listener.localAddress.port, ordering: .sequentiallyConsistent)
        }
        XCTAssertTrue(waitUntil(2) { port.load(ordering: .sequentiallyConsistent) != 0 })
        return port.load(ordering: .sequentiallyConsistent)
    }

    private func clientContext(alpn: [String] = ["http/1.1"]) -> TLSClientContext {
        try! TLSClientContext(TLSClientSettings(caBundle: Self.certs.path("ca.pem"), alpn: alpn))
    }

    func testEightMiBEchoedOverTLSWithAReaderThatPauses() {
        let thread = EventLoopThread(name: "tls")
        defer { thread.loop.stop(); thread.join() }
        let loop = thread.loop
        let port = startEchoListener(on: loop)
        let payload = (0..<(8 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 13) }
        let result = Recorder<[UInt8]>()
        let context = clientContext()
        loop.execute {
            let client = PausingCollector(expected: payload.count, loop: loop) { result.append($0) }
            let addr = SocketAddress.resolve(host: "127.0.0.1", port: port)[0]
            let c = try! TCPConnection.connect(loop: loop, to: addr, readBuffer: LoopReadBuffer(), delegate: client,
                                               tls: TLSConnectOptions(context: context, serverName: "localhost", requiredProtocol: "http/1.1"))
            client.onConnect = { c in
                XCTAssertEqual(c.negotiatedProtocol, "http/1.1")
                // Corked like the proxy's per-iteration writes: the whole payload is one SSL_write batch.
                c.cork()
                payload.withUnsafeBytes { c.write($0) }
                c.uncork()
            }
            KeepAlive.objects.append(c)
        }
        XCTAssertTrue(waitUntil(30) { !result.all.isEmpty }, "the echo did not complete")
        XCTAssertTrue(result.all.first == payload, "echoed bytes differ")
    }

    func testRequiredALPNThatTheServerDoesNotSelectFailsTheConnection() {
        let reason = connectAndCollectFailure(serverName: "localhost", alpn: ["h2"], required: "h2")
        XCTAssertTrue(reason.contains("no h2 in ALPN"), reason)
    }

    func testAServerCertificateForAnotherNameFailsVerification() {
        let reason = connectAndCollectFailure(serverName: "other.example.test", alpn: ["http/1.1"], required: nil)
        XCTAssertTrue(reason.contains("certificate verify failed: hostname mismatch"), reason)
    }

    private func connectAndCollectFailure(serverName: String, alpn: [String], required: String?) -> String {
        let thread = EventLoopThread(name: "tls")
        defer { thread.loop.stop(); thread.join() }
        let loop = thread.loop
        let port = startEchoListener(on: loop)
        let failures = Recorder<String>()
        let context = clientContext(alpn: alpn)
        loop.execute {
            let client = PausingCollector(expected: 1, loop: loop) { _ in }
            client.failures = failures
            let addr = SocketAddress.resolve(host: "127.0.0.1", port: port)[0]
            let c = try! TCPConnection.connect(loop: loop, to: addr, readBuffer: LoopReadBuffer(), delegate: client,
                                               tls: TLSConnectOptions(context: context, serverName: serverName, requiredProtocol: required))
            client.onConnect = { _ in failures.append("connected, which it should not have") }
            KeepAlive.objects.append(c)
        }
        XCTAssertTrue(waitUntil(5) { !failures.all.isEmpty })
        return failures.all.first ?? ""
    }

    func testAHandshakeThatNeverStartsIsDroppedAtTheTimeout() {
        let thread = EventLoopThread(name: "tls")
        defer { thread.loop.stop(); thread.join() }
        let failures = Recorder<String>()
        let port = startEchoListener(on: thread.loop, timeout: .milliseconds(200), failures: failures)
        let fd = rawConnect(port)
        defer { close(fd) }
        XCTAssertTrue(waitUntil(3) { !failures.all.isEmpty })
        XCTAssertTrue(failures.all.first?.hasPrefix("timeout:") == true, "\(failures.all)")
        var byte: UInt8 = 0
        XCTAssertEqual(read(fd, &byte, 1), 0, "the proxy side should have closed")
    }

    func testPlainHTTPGetsTheAnswerThenAClose() {
        let thread = EventLoopThread(name: "tls")
        defer { thread.loop.stop(); thread.join() }
        let answer = Array("HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n".utf8)
        let port = startEchoListener(on: thread.loop, plaintextAnswer: answer)
        let fd = rawConnect(port)
        defer { close(fd) }
        let request = Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
        XCTAssertEqual(write(fd, request, request.count), request.count)
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1024)
        while true {
            let n = read(fd, &buffer, buffer.count)
            if n <= 0 { break }
            received += buffer[0..<n]
        }
        XCTAssertEqual(received, answer)
    }

    private func rawConnect(_ port: Int) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var tv = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_port = UInt16(port).bigEndian
        sin.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &sin) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        XCTAssertEqual(rc, 0)
        return fd
    }
}

/// Reads until `expected` bytes arrived, pausing its reads for a few milliseconds every 256 KiB (so records that
/// OpenSSL read ahead must be picked up after `resumeReading`, without a new socket event).
final class PausingCollector: TCPConnectionDelegate {
    let expected: Int
    let loop: EventLoop
    let done: ([UInt8]) -> Void
    var onConnect: ((TCPConnection) -> Void)?
    var failures: Recorder<String>?
    private var received: [UInt8] = []
    private var sinceLastPause = 0

    init(expected: Int, loop: EventLoop, done: @escaping ([UInt8]) -> Void) {
        self.expected = expected
        self.loop = loop
        self.done = done
    }

    func connectionDidConnect(_ connection: TCPConnection) { onConnect?(connection) }

    func connectionDidRead(_ connection: TCPConnection, _ bytes: UnsafeRawBufferPointer) {
        received += bytes
        sinceLastPause += bytes.count
        if received.count >= expected {
            done(received)
            connection.close()
            return
        }
        if sinceLastPause >= 256 * 1024 {
            sinceLastPause = 0
            connection.pauseReading()
            _ = loop.scheduleTimer(after: .milliseconds(3)) { connection.resumeReading() }
        }
    }

    func connectionDidReadEOF(_ connection: TCPConnection) { failures?.append("EOF after \(received.count) bytes") }
    func connectionDidDrainWrites(_ connection: TCPConnection) {}
    func connectionDidClose(_ connection: TCPConnection, errno: Int32) {
        failures?.append(connection.tlsFailure?.message ?? "closed, errno \(errno)")
    }
}

/// Certificates for the loopback tests (a CA and a `localhost` server certificate), made with `openssl`.
final class LoopbackCertificates: @unchecked Sendable {  // only a let path, set in init; the files are written before any loop starts
    let directory: String

    init() {
        var template = Array("/tmp/grpc-web-proxy-tlsloop-XXXXXX".utf8CString)
        directory = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
        let rc = system("cd '\(directory)' && ( openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30"
            + " -subj /CN=ca -addext basicConstraints=critical,CA:TRUE -keyout ca.key -out ca.pem"
            + " && openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost -keyout server.key -out server.csr"
            + " && printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > server.ext"
            + " && openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 -extfile server.ext -out server.pem"
            + " ) > /dev/null 2>&1")
        precondition(rc == 0, "openssl failed to make the loopback test certificates")
    }

    deinit { _ = system("rm -rf '\(directory)'") }

    func path(_ name: String) -> String { directory + "/" + name }
}
