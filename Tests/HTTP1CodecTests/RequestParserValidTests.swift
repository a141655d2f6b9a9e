import XCTest
import HTTP1Codec

final class RequestParserValidTests: XCTestCase {
    func testSimpleGET() {
        let messages = parseValid(
            "GET /pkg.Svc/M?x=1&y=2 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: test/1.0\r\nAccept: */*\r\n\r\n")
        XCTAssertEqual(messages.count, 1)
        let head = messages[0].head
        XCTAssertEqual(head.method, "GET")
        XCTAssertEqual(head.target, "/pkg.Svc/M?x=1&y=2")
        XCTAssertEqual(head.path, "/pkg.Svc/M")
        XCTAssertEqual(head.versionMinor, 1)
        XCTAssertEqual(head.headers.fields.map(\.name), ["Host", "User-Agent", "Accept"])
        XCTAssertEqual(head.headers.fields.map(\.value), ["example.com", "test/1.0", "*/*"])
        XCTAssertTrue(head.keepAlive)
        XCTAssertFalse(head.isUpgrade)
        XCTAssertEqual(head.bodyKind, .none)
        XCTAssertEqual(messages[0].body, [])
        XCTAssertTrue(messages[0].ended)
    }

    func testPathWithoutQueryIsTarget() {
        let head = parseValid("OPTIONS /a/b HTTP/1.1\r\nHost: h\r\n\r\n")[0].head
        XCTAssertEqual(head.method, "OPTIONS")
        XCTAssertEqual(head.path, "/a/b")
        XCTAssertEqual(head.target, "/a/b")
        // Asterisk-form and a query-only target.
        XCTAssertEqual(parseValid("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n")[0].head.path, "*")
        let q = parseValid("GET /?a HTTP/1.1\r\nHost: h\r\n\r\n")[0].head
        XCTAssertEqual(q.path, "/")
        XCTAssertEqual(q.target, "/?a")
    }

    func testPOSTWithContentLength() {
        let messages = parseValid(
            "POST /grpc.Echo/Say HTTP/1.1\r\nHost: a\r\nContent-Type: application/grpc-web+proto\r\nContent-Length: 11\r\n\r\nhello world")
        XCTAssertEqual(messages.count, 1)
        XCTAssertEqual(messages[0].head.method, "POST")
        XCTAssertEqual(messages[0].head.bodyKind, .contentLength(11))
        XCTAssertEqual(messages[0].body, "hello world".bytes)
    }

    func testContentLengthZeroEndsRightAfterHead() {
        let messages = parseValid("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n")
        XCTAssertEqual(messages[0].head.bodyKind, .contentLength(0))
        XCTAssertEqual(messages[0].body, [])
        XCTAssertTrue(messages[0].ended)
    }

    func testBinaryBodyIsPassedThroughUntouched() {
        let body: [UInt8] = (0...255).map { UInt8($0) } + [13, 10, 13, 10, 0]
        let bytes = "POST /b HTTP/1.1\r\nHost: a\r\nContent-Length: \(body.count)\r\n\r\n".bytes + body
        XCTAssertEqual(parseValid(bytes)[0].body, body)
    }

    func testRepeatedOrListedIdenticalContentLengthIsAccepted() {
        let listed = parseValid("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\nhello")
        XCTAssertEqual(listed[0].head.bodyKind, .contentLength(5))
        XCTAssertEqual(listed[0].body, "hello".bytes)
        let repeated = parseValid("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\ncontent-length: 005\r\n\r\nhello")
        XCTAssertEqual(repeated[0].head.bodyKind, .contentLength(5))
        XCTAssertEqual(repeated[0].body, "hello".bytes)
    }

    func testChunkedWithExtensionsAndTrailers() {
        let data26 = "abcdefghijklmnopqrstuvwxyz"
        let messages = parseValid(
            "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                + "5;name=value\r\nhello\r\n"
                + "6 ; x ; y=\"quoted;str\"\r\n world\r\n"
                + "1A\r\n\(data26)\r\n"
                + "000a\r\n0123456789\r\n"
                + "0;last\r\nX-Trailer: yes\r\nChecksum: abc\r\n\r\n")
        XCTAssertEqual(messages.count, 1)
        XCTAssertEqual(messages[0].head.bodyKind, .chunked)
        XCTAssertEqual(messages[0].body, "hello world\(data26)0123456789".bytes)
        // Trailers are validated and dropped, never merged into the head.
        XCTAssertFalse(messages[0].head.headers.contains("X-Trailer"))
    }

    func testChunkedWithoutTrailers() {
        let messages = parseValid("POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
        XCTAssertEqual(messages[0].body, "abc".bytes)
        let empty = parseValid("POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
        XCTAssertEqual(empty[0].body, [])
        XCTAssertTrue(empty[0].ended)
    }

    func testTransferEncodingSpellings() {
        for value in ["Chunked", "CHUNKED", "  chunked  ", "chunked ,", ", chunked"] {
            let messages = parseValid("POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \(value)\r\n\r\n1\r\nz\r\n0\r\n\r\n")
            XCTAssertEqual(messages.first?.head.bodyKind, .chunked, value)
            XCTAssertEqual(messages.first?.body, "z".bytes, value)
        }
    }

    func testPipelinedRequestsInOneBuffer() {
        let input = "GET /one HTTP/1.1\r\nHost: a\r\n\r\n"
            + "POST /two HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"
            + "POST /three HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nde\r\n0\r\nT: v\r\n\r\n"
            + "\r\n"   // a stray CRLF between requests is tolerated
            + "GET /four HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
        let messages = parseValid(input)
        XCTAssertEqual(messages.map(\.head.path), ["/one", "/two", "/three", "/four"])
        XCTAssertEqual(messages.map(\.body), [[], "abc".bytes, "de".bytes, []])
        XCTAssertEqual(messages.map(\.head.keepAlive), [true, true, true, false])
        XCTAssertTrue(messages.allSatisfy(\.ended))
    }

    /// The exact call sequence the connection code sees: the parser stops at each message
    /// boundary, and `.end` after a Content-Length body comes from a call that consumes nothing.
    func testEventSequenceAndConsumedCounts() throws {
        let first = "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\n"
        let second = "GET /b HTTP/1.1\r\nHost: h\r\n\r\n"
        let bytes = (first + "body" + second).bytes
        var parser = HTTP1RequestParser()
        var offset = 0
        func step() throws -> (event: HTTP1ParseEvent, consumed: Int) {
            let result = try bytes.withUnsafeBytes { all in
                try parser.next(UnsafeRawBufferPointer(rebasing: all[offset...]))
            }
            offset += result.consumed
            return result
        }
        var r = try step()
        guard case .head(let h1) = r.event else { return XCTFail("\(r)") }
        XCTAssertEqual(h1.path, "/a")
        XCTAssertEqual(r.consumed, first.utf8.count)
        r = try step()
        XCTAssertEqual(r.event, .body(0..<4))
        XCTAssertEqual(r.consumed, 4)
        r = try step()
        XCTAssertEqual(r.event, .end)
        XCTAssertEqual(r.consumed, 0)
        r = try step()
        guard case .head(let h2) = r.event else { return XCTFail("\(r)") }
        XCTAssertEqual(h2.path, "/b")
        XCTAssertEqual(r.consumed, second.utf8.count)
        r = try step()
        XCTAssertEqual(r.event, .end)
        XCTAssertEqual(r.consumed, 0)
        r = try step()
        XCTAssertEqual(r.event, .needMoreData)
        XCTAssertEqual(r.consumed, 0)
        XCTAssertEqual(offset, bytes.count)
    }

    func testBodyRangeStartsAfterChunkFramingInTheSameInput() throws {
        let head = "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        var parser = HTTP1RequestParser()
        _ = try head.bytes.withUnsafeBytes { try parser.next($0) }
        let body = "4;e=1\r\nwxyz\r\n0\r\n\r\n".bytes
        let r = try body.withUnsafeBytes { try parser.next($0) }
        XCTAssertEqual(r.event, .body(7..<11))
        XCTAssertEqual(r.consumed, 11)
        let end = try body.withUnsafeBytes { try parser.next(UnsafeRawBufferPointer(rebasing: $0[11...])) }
        XCTAssertEqual(end.event, .end)
        XCTAssertEqual(end.consumed, body.count - 11)
    }

    func testHTTP10KeepAlive() {
        let plain = parseValid("GET / HTTP/1.0\r\n\r\n")[0].head
        XCTAssertEqual(plain.versionMinor, 0)
        XCTAssertFalse(plain.keepAlive)
        let keepAlive = parseValid("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")[0].head
        XCTAssertTrue(keepAlive.keepAlive)
        let both = parseValid("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n")[0].head
        XCTAssertFalse(both.keepAlive)
        // HTTP/1.0 with a body by Content-Length.
        let post = parseValid("POST /p HTTP/1.0\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok")
        XCTAssertEqual(post[0].body, "ok".bytes)
        XCTAssertTrue(post[0].head.keepAlive)
    }

    func testHTTP11ConnectionClose() {
        XCTAssertFalse(parseValid("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")[0].head.keepAlive)
        XCTAssertFalse(parseValid("GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, CLOSE\r\n\r\n")[0].head.keepAlive)
        XCTAssertTrue(parseValid("GET / HTTP/1.1\r\nHost: a\r\nConnection: closed\r\n\r\n")[0].head.keepAlive)
    }

    func testUpgradeDetection() {
        let ws = parseValid(
            "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                + "Sec-WebSocket-Protocol: grpc-websockets\r\n\r\n")[0].head
        XCTAssertTrue(ws.isUpgrade)
        XCTAssertTrue(ws.keepAlive)
        XCTAssertEqual(ws.headers["upgrade"], "websocket")
        XCTAssertEqual(ws.headers["sec-websocket-key"], "dGhlIHNhbXBsZSBub25jZQ==")

        let noUpgradeField = parseValid("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\n\r\n")[0].head
        XCTAssertFalse(noUpgradeField.isUpgrade)
        let noConnectionToken = parseValid("GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n")[0].head
        XCTAssertFalse(noConnectionToken.isUpgrade)
        let http10 = parseValid("GET /ws HTTP/1.0\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")[0].head
        XCTAssertFalse(http10.isUpgrade)
    }

    func testHeaderValuesAreTrimmedAndKeepOriginalCase() {
        let head = parseValid(
            "GET / HTTP/1.1\r\nhOsT: a\r\nX-Spaced:   inner  value \t \r\nX-Empty:\r\nX-Tab:\tv\r\nX-Multi: 1\r\nx-multi: 2\r\n\r\n")[0].head
        XCTAssertEqual(head.headers.fields.map(\.name), ["hOsT", "X-Spaced", "X-Empty", "X-Tab", "X-Multi", "x-multi"])
        XCTAssertEqual(head.headers["host"], "a")
        XCTAssertEqual(head.headers["x-spaced"], "inner  value")
        XCTAssertEqual(head.headers["X-EMPTY"], "")
        XCTAssertEqual(head.headers["x-tab"], "v")
        XCTAssertEqual(head.headers.values("X-MULTI"), ["1", "2"])
    }

    func testObsTextInValueIsAccepted() {
        let bytes = "GET / HTTP/1.1\r\nHost: a\r\nX-Latin: caf".bytes + [0xC3, 0xA9] + "\r\n\r\n".bytes
        XCTAssertEqual(parseValid(bytes)[0].head.headers["x-latin"], "café")
    }

    func testLeadingEmptyLinesAreSkipped() {
        let messages = parseValid("\r\n\r\nGET /late HTTP/1.1\r\nHost: a\r\n\r\n")
        XCTAssertEqual(messages.map(\.head.path), ["/late"])
    }

    func testEveryTokenCharacterIsAcceptedInMethodAndName() {
        let token = "!#$%&'*+-.^_`|~09AZaz"
        let messages = parseValid("\(token) / HTTP/1.1\r\nHost: a\r\n\(token): v\r\n\r\n")
        XCTAssertEqual(messages[0].head.method, token)
        XCTAssertEqual(messages[0].head.headers[token], "v")
    }

    func testExactlyMaxLeadingEmptyLinesThenMoreIsRejected() {
        XCTAssertEqual(HTTP1RequestParser.maxLeadingEmptyLines, 2)
        assertRejects("\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", status: 400)
    }

    func testUnlimitedBodyWhenMaxBodyBytesIsZero() throws {
        var parser = HTTP1RequestParser(limits: HTTP1Limits(maxBodyBytes: 0))
        let r = try "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000000000\r\n\r\n".bytes.withUnsafeBytes { try parser.next($0) }
        guard case .head(let head) = r.event else { return XCTFail("\(r)") }
        XCTAssertEqual(head.bodyKind, .contentLength(1_000_000_000_000))

        // Chunked: a chunk as large as Int.max is announced without complaint.
        let wire = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n7fffffffffffffff\r\nabc".bytes
        let outcome = drive([wire], limits: HTTP1Limits(maxBodyBytes: 0))
        XCTAssertNil(outcome.error)
        XCTAssertEqual(outcome.messages.first?.body, "abc".bytes)
        XCTAssertEqual(outcome.messages.first?.ended, false)
    }
}
