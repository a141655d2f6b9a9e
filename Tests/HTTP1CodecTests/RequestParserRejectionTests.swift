import XCTest
import HTTP1Codec

/// Every rejection asserts the exact status, under every split of the input.
final class RequestParserRejectionTests: XCTestCase {
    private let host = "Host: a\r\n"

    // MARK: Request line

    func testMalformedRequestLines() {
        assertRejects("GET  / HTTP/1.1\r\n\(host)\r\n", status: 400)       // double space
        assertRejects("GET /  HTTP/1.1\r\n\(host)\r\n", status: 400)
        assertRejects("G@T / HTTP/1.1\r\n\(host)\r\n", status: 400)        // method not a token
        assertRejects(" GET / HTTP/1.1\r\n\(host)\r\n", status: 400)       // leading whitespace
        assertRejects("GET\t/ HTTP/1.1\r\n\(host)\r\n", status: 400)
        assertRejects("GET /a\tb HTTP/1.1\r\n\(host)\r\n", status: 400)    // CTL in target
        assertRejects("GET /a\u{7F} HTTP/1.1\r\n\(host)\r\n", status: 400)  // DEL in target
        assertRejects("GET /caf\u{E9} HTTP/1.1\r\n\(host)\r\n", status: 400) // non-ASCII target
        assertRejects("GET /\r\n\(host)\r\n", status: 400)                 // no version
        assertRejects("GET / \r\n\(host)\r\n", status: 400)
        assertRejects("GET\r\n\(host)\r\n", status: 400)
        assertRejects("GET / http/1.1\r\n\(host)\r\n", status: 400)        // HTTP-name is case-sensitive
        assertRejects("GET / HTTP/1.10\r\n\(host)\r\n", status: 400)
        assertRejects("GET / HTTP/1\r\n\(host)\r\n", status: 400)
        assertRejects("GET / HTTP/a.1\r\n\(host)\r\n", status: 400)
        assertRejects("GET / HTTP/1.1 \r\n\(host)\r\n", status: 400)
    }

    func testUnsupportedVersions() {
        assertRejects("GET / HTTP/2.0\r\n\(host)\r\n", status: 505)
        assertRejects("GET / HTTP/1.2\r\n\(host)\r\n", status: 505)
        assertRejects("GET / HTTP/0.9\r\n\(host)\r\n", status: 505)
        assertRejects("GET / HTTP/3.0\r\n\(host)\r\n", status: 505)
        // The HTTP/2 connection preface.
        assertRejects("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", status: 505)
    }

    // MARK: Line endings

    func testBareCRAndBareLF() {
        assertRejects("GET / HTTP/1.1\rHost: a\r\n\r\n", status: 400)
        assertRejects("GET / HTTP/1.1\nHost: a\r\n\r\n", status: 400)
        assertRejects("GET / HTTP/1.1\r\nHost: a\n\n", status: 400)
        assertRejects("GET / HTTP/1.1\r\nX: a\rb\r\n\(host)\r\n", status: 400)
        assertRejects("GET / HTTP/1.1\r\n\(host)\r\r\n", status: 400)
        assertRejects("\r\rGET / HTTP/1.1\r\n\(host)\r\n", status: 400)
        assertRejects("\nGET / HTTP/1.1\r\n\(host)\r\n", status: 400)
    }

    // MARK: Header fields

    func testMalformedHeaderFields() {
        assertRejects("GET / HTTP/1.1\r\nHost : a\r\n\r\n", status: 400)            // whitespace before colon
        assertRejects("GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", status: 400)
        assertRejects("GET / HTTP/1.1\r\n\(host)X-A: 1\r\n  folded\r\n\r\n", status: 400)   // obs-fold
        assertRejects("GET / HTTP/1.1\r\n\(host)X-A: 1\r\n\tfolded\r\n\r\n", status: 400)
        assertRejects("GET / HTTP/1.1\r\n\(host)NoColon\r\n\r\n", status: 400)
        assertRejects("GET / HTTP/1.1\r\n\(host): value\r\n\r\n", status: 400)       // empty name
        assertRejects("GET / HTTP/1.1\r\n\(host)Bad[Name]: x\r\n\r\n", status: 400)
        assertRejects("GET / HTTP/1.1\r\n\(host)X-\u{E9}: x\r\n\r\n", status: 400)    // non-ASCII name
    }

    func testForbiddenBytesInHeaderValues() {
        for bad: UInt8 in [0x00, 0x01, 0x08, 0x0B, 0x0C, 0x1F, 0x7F] {
            let bytes = "GET / HTTP/1.1\r\n\(host)X-A: a".bytes + [bad] + "b\r\n\r\n".bytes
            assertRejects(bytes, status: 400)
        }
        // A leading NUL is still a NUL, not whitespace to trim.
        assertRejects("GET / HTTP/1.1\r\n\(host)X-A: ".bytes + [0] + "\r\n\r\n".bytes, status: 400)
    }

    func testHostRules() {
        assertRejects("GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", status: 400)
        assertRejects("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", status: 400)
        assertRejects("GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n", status: 400)
    }

    // MARK: Framing

    func testContentLengthAndTransferEncodingTogether() {
        assertRejects("POST / HTTP/1.1\r\n\(host)Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", status: 400)
        assertRejects("POST / HTTP/1.1\r\n\(host)Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\nabc", status: 400)
    }

    func testInvalidContentLength() {
        for value in ["abc", "", "+5", "-1", "5 5", "0x10", "5,", ",5", "5, , 5", "1.5"] {
            assertRejects("POST / HTTP/1.1\r\n\(host)Content-Length: \(value)\r\n\r\n", status: 400)
        }
        assertRejects("POST / HTTP/1.1\r\n\(host)Content-Length: 5, 6\r\n\r\nhello", status: 400)
        assertRejects("POST / HTTP/1.1\r\n\(host)Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello", status: 400)
        // Overflow, with the body limit disabled so only the parse can fail.
        let unlimited = HTTP1Limits(maxBodyBytes: 0)
        assertRejects("POST / HTTP/1.1\r\n\(host)Content-Length: 9223372036854775808\r\n\r\n", status: 400, limits: unlimited)
        assertRejects("POST / HTTP/1.1\r\n\(host)Content-Length: 99999999999999999999999\r\n\r\n", status: 400, limits: unlimited)
    }

    func testTransferEncodingRules() {
        let chunkedBody = "1\r\nz\r\n0\r\n\r\n"
        for (value, status) in [("gzip", 501), ("identity", 501), ("gzip, chunked", 501), ("chunked;x=1", 501),
                                ("x-custom", 501),
                                ("chunked, gzip", 400), ("chunked, chunked", 400), ("", 400), (" , ", 400)] {
            assertRejects("POST / HTTP/1.1\r\n\(host)Transfer-Encoding: \(value)\r\n\r\n\(chunkedBody)", status: status)
        }
        // Split over two fields: "chunked" then "gzip" is chunked-not-last.
        assertRejects("POST / HTTP/1.1\r\n\(host)Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n", status: 400)
        // HTTP/1.0 must not use Transfer-Encoding.
        assertRejects("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n\(chunkedBody)", status: 400)
    }

    // MARK: Chunked body

    private func chunked(_ body: String) -> String {
        "POST / HTTP/1.1\r\n\(host)Transfer-Encoding: chunked\r\n\r\n" + body
    }

    func testInvalidChunkSizes() {
        assertRejects(chunked("xyz\r\n"), status: 400)
        assertRejects(chunked("\r\n"), status: 400)                 // empty size
        assertRejects(chunked(";ext\r\n"), status: 400)             // extension without size
        assertRejects(chunked(" 5\r\nhello\r\n0\r\n\r\n"), status: 400)
        assertRejects(chunked("5 \r\nhello\r\n0\r\n\r\n"), status: 400)   // BWS only before ';'
        assertRejects(chunked("-5\r\n"), status: 400)
        assertRejects(chunked("0x5\r\nhello\r\n0\r\n\r\n"), status: 400)
        assertRejects(chunked("5\nhello\r\n0\r\n\r\n"), status: 400)      // bare LF
        assertRejects(chunked("5\rhello\r\n0\r\n\r\n"), status: 400)      // bare CR
        assertRejects(chunked("5;a\u{01}b\r\nhello\r\n0\r\n\r\n"), status: 400)  // CTL in extension
        assertRejects(chunked("5;a\nhello\r\n0\r\n\r\n"), status: 400)
    }

    func testChunkSizeOverflow() {
        let unlimited = HTTP1Limits(maxBodyBytes: 0)
        assertRejects(chunked("8000000000000000\r\n"), status: 400, limits: unlimited)   // 2^63
        assertRejects(chunked("FFFFFFFFFFFFFFFFF\r\n"), status: 400, limits: unlimited)
        // Leading zeros do not count towards overflow.
        let ok = parseValid(chunked("00000000000000000000001\r\nq\r\n0\r\n\r\n"), limits: unlimited)
        XCTAssertEqual(ok.first?.body, "q".bytes)
    }

    func testChunkDataMustBeFollowedByCRLF() {
        assertRejects(chunked("5\r\nhelloX\r\n0\r\n\r\n"), status: 400)
        assertRejects(chunked("5\r\nhello\rX0\r\n\r\n"), status: 400)
        assertRejects(chunked("5\r\nhello\n0\r\n\r\n"), status: 400)
        assertRejects(chunked("3\r\nhello\r\n0\r\n\r\n"), status: 400)   // data longer than size
    }

    func testInvalidTrailers() {
        assertRejects(chunked("0\r\nX: a\r\n b\r\n\r\n"), status: 400)         // obs-fold
        assertRejects(chunked("0\r\nX : a\r\n\r\n"), status: 400)
        assertRejects(chunked("0\r\nX: a\nY: b\r\n\r\n"), status: 400)         // bare LF
        assertRejects(chunked("0\r\nX: a\u{01}\r\n\r\n"), status: 400)
        assertRejects(chunked("0\r\nNoColon\r\n\r\n"), status: 400)
        assertRejects(chunked("0\r\n\rX"), status: 400)                         // bare CR in last CRLF
    }

    // MARK: After an error

    func testParserStaysFailedAfterAnError() throws {
        var parser = HTTP1RequestParser()
        let bad = "GET / HTTP/9.9\r\n\r\n".bytes
        var first: HTTP1ParseError?
        do { _ = try bad.withUnsafeBytes { try parser.next($0) } } catch { first = error as? HTTP1ParseError }
        XCTAssertEqual(first?.status, 505)
        let good = "GET / HTTP/1.1\r\nHost: a\r\n\r\n".bytes
        var second: HTTP1ParseError?
        do { _ = try good.withUnsafeBytes { try parser.next($0) } } catch { second = error as? HTTP1ParseError }
        XCTAssertEqual(second, first)
    }

    func testErrorReasonsAreSpecific() {
        func reason(_ text: String) -> String? { drive([text.bytes]).error?.reason }
        XCTAssertEqual(reason("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"),
                       "both Content-Length and Transfer-Encoding")
        XCTAssertEqual(reason("GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n 2\r\n\r\n"), "obsolete line folding")
        XCTAssertEqual(reason("GET / HTTP/1.1\r\nHost : a\r\n\r\n"), "whitespace before colon in header field")
    }
}
