import Transport

/// Recognising HTTP/2 on a connection that starts as HTTP/1.1: ALPN `h2` after a TLS handshake, or, in
/// cleartext, the client connection preface (RFC 9113 §3.4: prior knowledge; `Upgrade: h2c` is not supported).
extension DownstreamHTTP1Connection {
    static let http2Preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    /// The first bytes of a cleartext connection: the preface (possibly split over reads) switches to HTTP/2;
    /// anything that stops matching it is HTTP/1.1, parsed as usual.
    func sniffForHTTP2Preface(_ bytes: UnsafeRawBufferPointer) {
        let preface = Self.http2Preface
        var seen = sniffedBytes
        seen.append(contentsOf: bytes)
        let compared = min(seen.count, preface.count)
        if seen[0..<compared].elementsEqual(preface[0..<compared]) {
            if seen.count < preface.count {
                sniffedBytes = seen  // at most 23 bytes: wait for the rest
                return
            }
            sniffingForHTTP2Preface = false
            sniffedBytes = []
            switchToHTTP2(initialBytes: seen)
            return
        }
        sniffingForHTTP2Preface = false
        sniffedBytes = []
        seen.withUnsafeBytes { processAsHTTP1($0) }
    }

    /// Hands the socket to a `DownstreamHTTP2Connection`; this object is done.
    func switchToHTTP2(initialBytes: [UInt8]) {
        sniffingForHTTP2Preface = false
        retireForProtocolSwitch()
        let h2 = DownstreamHTTP2Connection(tcp: tcp, worker: worker, listener: listener)
        worker.connectionSwitched(from: self, to: h2)
        h2.start(initialBytes: initialBytes)
    }
}
