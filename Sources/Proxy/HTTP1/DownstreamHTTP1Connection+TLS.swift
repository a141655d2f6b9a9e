import EventLoop
import Transport
import TLS

extension DownstreamHTTP1Connection {
    /// The answer to plain HTTP sent to a TLS listener (nginx answers the same way): the client learns what is
    /// wrong instead of seeing a closed connection.
    static let plainHTTPOnTLSPortAnswer: [UInt8] = {
        let body = "400 Bad Request: this port speaks HTTPS; use https:// (or wss://) to reach it.\n"
        let head = "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
            + "Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n"
        return Array((head + body).utf8)
    }()

    func countTLSFailure(_ failure: TLSFailure) {
        let stats = worker.stats
        switch failure.kind {
        case .handshake:
            stats.downstreamTLSHandshakeFailuresTotal.add(1)
            Log.debug("tls", "handshake failed: \(failure.message)")
        case .handshakeTimeout:
            stats.downstreamTLSHandshakeFailuresTotal.add(1)
            stats.downstreamTLSHandshakeTimeoutsTotal.add(1)
        case .notTLS:
            stats.downstreamTLSHandshakeFailuresTotal.add(1)
            stats.downstreamTLSPlaintextRejectedTotal.add(1)
        case .established:
            Log.debug("tls", "connection error: \(failure.message)")
        }
    }

    /// The verified client certificate in Envoy's `x-forwarded-client-cert` form, or nil without one.
    var forwardedClientCertificate: String? {
        tcp.peerCertificate.map(ForwardedClientCertificate.headerValue)
    }
}
