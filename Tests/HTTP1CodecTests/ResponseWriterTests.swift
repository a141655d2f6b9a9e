import XCTest
import HTTP1Codec

final class ResponseWriterTests: XCTestCase {
    func testHeadExactBytes() {
        var out: [UInt8] = []
        HTTP1ResponseWriter.writeHead(status: 200, headers: [("Content-Type", "application/grpc-web+proto"),
                                                             ("Transfer-Encoding", "chunked")], into: &out)
        XCTAssertEqual(String(decoding: out, as: UTF8.self),
                       "HTTP/1.1 200 OK\r\nContent-Type: application/grpc-web+proto\r\nTransfer-Encoding: chunked\r\n\r\n")
    }

    func testHeadFromHTTPHeadersAppendsToExistingOutput() {
        var out: [UInt8] = Array("prefix|".utf8)
        HTTP1ResponseWriter.writeHead(status: 431, headers: HTTPHeaders([("Connection", "close"), ("Content-Length", "0")]), into: &out)
        XCTAssertEqual(String(decoding: out, as: UTF8.self),
                       "prefix|HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
    }

    func testHeadWithoutFieldsAndUnknownStatus() {
        var out: [UInt8] = []
        HTTP1ResponseWriter.writeHead(status: 299, headers: [], into: &out)
        XCTAssertEqual(String(decoding: out, as: UTF8.self), "HTTP/1.1 299 Unknown\r\n\r\n")
        out = []
        HTTP1ResponseWriter.writeHead(status: 101, headers: [("Upgrade", "websocket"), ("Connection", "Upgrade")], into: &out)
        XCTAssertEqual(String(decoding: out, as: UTF8.self),
                       "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
    }

    func testFieldsThatCouldSplitTheResponseAreSkipped() {
        var out: [UInt8] = []
        HTTP1ResponseWriter.writeHead(status: 200, headers: [
            ("Good", "v"), ("Bad", "a\r\nInjected: 1"), ("Also Bad", "v"), ("", "v"), ("Nul", "a\u{0}b"),
            ("Tab", "a\tb"), ("Utf8", "caf\u{E9}"),
        ], into: &out)
        XCTAssertEqual(String(decoding: out, as: UTF8.self),
                       "HTTP/1.1 200 OK\r\nGood: v\r\nTab: a\tb\r\nUtf8: caf\u{E9}\r\n\r\n")
    }

    func testReasonPhrases() {
        let expected = [200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
                        413: "Content Too Large", 431: "Request Header Fields Too Large", 500: "Internal Server Error",
                        501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable",
                        504: "Gateway Timeout", 505: "HTTP Version Not Supported"]
        for (status, phrase) in expected {
            XCTAssertEqual(HTTP1ResponseWriter.reasonPhrase(status), phrase)
        }
    }

    func testChunkHeaders() {
        for (length, text) in [(1, "1\r\n"), (9, "9\r\n"), (10, "a\r\n"), (255, "ff\r\n"), (256, "100\r\n"),
                               (4096, "1000\r\n"), (0x1_0000_0000, "100000000\r\n"), (Int.max, "7fffffffffffffff\r\n")] {
            var out: [UInt8] = []
            HTTP1ResponseWriter.writeChunkHeader(length: length, into: &out)
            XCTAssertEqual(String(decoding: out, as: UTF8.self), text)
        }
    }

    func testChunkAndLastChunk() {
        var out: [UInt8] = []
        "hello world, this is 30 bytes!".utf8.withContiguousStorageIfAvailable {
            HTTP1ResponseWriter.writeChunk(UnsafeRawBufferPointer($0), into: &out)
        }
        XCTAssertEqual(String(decoding: out, as: UTF8.self), "1e\r\nhello world, this is 30 bytes!\r\n")
        [UInt8]().withUnsafeBytes { HTTP1ResponseWriter.writeChunk($0, into: &out) }
        XCTAssertEqual(out.count, 36, "an empty chunk writes nothing")
        XCTAssertEqual(HTTP1ResponseWriter.chunkTrailer, [13, 10])
        XCTAssertEqual(HTTP1ResponseWriter.lastChunk, Array("0\r\n\r\n".utf8))
    }

    /// The writer's chunked framing, fed back through the parser, gives back the same bytes.
    func testChunkedOutputRoundTripsThroughTheParser() {
        var rng = SplitMix64(seed: 42)
        var payload: [UInt8] = []
        var wire = Array("POST /rt HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)
        for _ in 0..<20 {
            let chunk = (0..<Int.random(in: 1...300, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            payload += chunk
            chunk.withUnsafeBytes { HTTP1ResponseWriter.writeChunk($0, into: &wire) }
        }
        wire += HTTP1ResponseWriter.lastChunk
        let outcome = drive([wire])
        XCTAssertNil(outcome.error)
        XCTAssertEqual(outcome.messages.first?.body, payload)
        XCTAssertEqual(outcome.messages.first?.ended, true)
    }
}
