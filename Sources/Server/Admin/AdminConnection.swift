import EventLoop
import HTTP1Codec
import Proxy
import Transport

/// The admin endpoint: `GET /ready` (200 serving, 503 draining), `GET /metrics` (Prometheus text),
/// `GET /healthz` (200 while the process runs). Plain HTTP/1.1, one request at a time.
final class AdminConnection: TCPConnectionDelegate {
    private let tcp: TCPConnection
    private var parser = HTTP1RequestParser(limits: HTTP1Limits(maxHeaderBytes: 8 * 1024, maxHeaderCount: 50, maxBodyBytes: 0))
    private let server: ProxyServer

    init(fd: Int32, loop: EventLoop, readBuffer: LoopReadBuffer, server: ProxyServer) {
        self.server = server
        tcp = TCPConnection(loop: loop, fd: fd, readBuffer: readBuffer)
        tcp.delegate = self
    }

    func connectionDidConnect(_ connection: TCPConnection) {}

    func connectionDidRead(_ connection: TCPConnection, _ bytes: UnsafeRawBufferPointer) {
        var offset = 0
        while offset < bytes.count && !tcp.isClosed {
            do {
                let (event, consumed) = try parser.next(UnsafeRawBufferPointer(rebasing: bytes[offset...]))
                offset += consumed
                switch event {
                case .head(let head): respond(head)
                case .needMoreData: if consumed == 0 { return }
                case .body, .end: break
                }
            } catch {
                reply(error.status, error.reason + "\n", close: true)
                return
            }
        }
    }

    private func respond(_ head: HTTPRequestHead) {
        guard head.method == "GET" || head.method == "HEAD" else {
            reply(405, "admin endpoints are GET only\n", close: !head.keepAlive)
            return
        }
        switch head.path {
        case "/ready":
            if server.isDraining { reply(503, "draining\n", close: !head.keepAlive) } else { reply(200, "ready\n", close: !head.keepAlive) }
        case "/healthz":
            reply(200, "ok\n", close: !head.keepAlive)
        case "/metrics":
            reply(200, server.stats.prometheusText(), contentType: "text/plain; version=0.0.4", close: !head.keepAlive)
        default:
            reply(404, "unknown admin path; try /ready, /healthz or /metrics\n", close: !head.keepAlive)
        }
    }

    private func reply(_ status: Int, _ body: String, contentType: String = "text/plain; charset=utf-8", close: Bool) {
        let b = Array(body.utf8)
        var out: [UInt8] = []
        var h: [(String, String)] = [("Content-Type", contentType), ("Content-Length", String(b.count))]
        if close { h.append(("Connection", "close")) }
        HTTP1ResponseWriter.writeHead(status: status, headers: h, into: &out)
        out += b
        tcp.write(out)
        if close { tcp.closeAfterWrites() }
    }

    func connectionDidReadEOF(_ connection: TCPConnection) { tcp.closeAfterWrites() }
    func connectionDidDrainWrites(_ connection: TCPConnection) {}
    func connectionDidClose(_ connection: TCPConnection, errno: Int32) {}
}
