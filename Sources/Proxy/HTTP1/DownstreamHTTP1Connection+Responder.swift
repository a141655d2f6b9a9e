import HTTP1Codec

/// An HTTP/1.1 connection answers one call at a time, so it is the responder of its current call: the head with
/// chunked framing (or a close-delimited body for HTTP/1.0), one chunk per body piece, the last chunk at the end.
extension DownstreamHTTP1Connection: DownstreamResponder {
    func sendResponseHead(status: Int, headers: [(String, String)], endStream: Bool) {
        var h = headers
        if endStream {
            responseChunked = false
            h.append(("Content-Length", "0"))
        } else {
            // HTTP/1.0 has no chunked encoding: the body ends with the connection.
            responseChunked = (currentRequestVersionMinor ?? 1) >= 1
            if responseChunked { h.append(("Transfer-Encoding", "chunked")) } else { closeAfterThisResponse() }
        }
        if connectionWillClose { h.append(("Connection", "close")) }
        var out: [UInt8] = []
        out.reserveCapacity(256)
        HTTP1ResponseWriter.writeHead(status: status, headers: h, into: &out)
        writeResponseBytes(out)
    }

    /// One chunk (header, payload, CRLF) in a single writev; the payload is not copied unless the socket cannot
    /// take it all.
    func sendResponseBody(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        guard responseChunked else {
            writeResponseParts([bytes])
            return
        }
        var header: [UInt8] = []
        header.reserveCapacity(10)
        HTTP1ResponseWriter.writeChunkHeader(length: bytes.count, into: &header)
        header.withUnsafeBytes { h in
            HTTP1ResponseWriter.chunkTrailer.withUnsafeBytes { crlf in
                writeResponseParts([h, bytes, crlf])
            }
        }
    }

    func endResponse(trailers: [(String, String)]?) {
        // gRPC-Web's trailers travel in the body; HTTP/1.1 trailers are not used.
        if responseChunked { writeResponseBytes(HTTP1ResponseWriter.lastChunk) }
    }

    func cutResponse() {
        cutResponse(chunked: responseChunked)
    }

    var hasQueuedResponseBytes: Bool { bufferedResponseBytes > 0 }

    var httpVersion: String { currentRequestVersionMinor == 0 ? "1.0" : "1.1" }
    var listenerName: String { listener.config.name }
    var isSecure: Bool { listener.config.tls != nil }

    func pauseRequestBody() { pauseReading(Self.pausedForUpstream) }
    func resumeRequestBody() { resumeReading(Self.pausedForUpstream) }
}
