import XCTest
import HTTP1Codec

/// Each limit is tested at exactly the limit (accepted) and one over (rejected), under every split.
final class RequestParserLimitsTests: XCTestCase {
    /// A head of exactly `size` bytes (request line through the blank line), padded in one header.
    private func head(size: Int, extra: String = "") -> String {
        let fixed = "GET / HTTP/1.1\r\nHost: a\r\n\(extra)X-Pad: \r\n\r\n"
        precondition(size >= fixed.utf8.count)
        return "GET / HTTP/1.1\r\nHost: a\r\n\(extra)X-Pad: \(String(repeating: "p", count: size - fixed.utf8.count))\r\n\r\n"
    }

    func testHeaderBytesAtAndOverTheLimit() {
        let limits = HTTP1Limits(maxHeaderBytes: 200)
        let exact = head(size: 200)
        XCTAssertEqual(exact.utf8.count, 200)
        XCTAssertEqual(parseValid(exact, limits: limits).count, 1)
        assertRejects(head(size: 201), status: 431, limits: limits)
        // Rejected early, without waiting for the rest of an endless head.
        assertRejects("GET / HTTP/1.1\r\nX: " + String(repeating: "a", count: 300), status: 431, limits: limits)
        // Leading empty lines do not count.
        XCTAssertEqual(parseValid("\r\n\r\n" + exact, limits: limits).count, 1)
    }

    func testDefaultHeaderLimitIs60KiB() {
        XCTAssertEqual(HTTP1Limits().maxHeaderBytes, 60 * 1024)
        XCTAssertEqual(HTTP1Limits().maxHeaderCount, 100)
        XCTAssertEqual(HTTP1Limits().maxBodyBytes, 16 * 1024 * 1024)
        // Checked without the all-splits helper: the input is large.
        XCTAssertNil(drive([head(size: 60 * 1024).bytes]).error)
        XCTAssertEqual(drive([head(size: 60 * 1024 + 1).bytes]).error?.status, 431)
        let big = head(size: 60 * 1024 + 1).bytes
        XCTAssertEqual(drive(stride(from: 0, to: big.count, by: 1000).map { Array(big[$0..<min($0 + 1000, big.count)]) }).error?.status, 431)
    }

    func testHeaderCountAtAndOverTheLimit() {
        let limits = HTTP1Limits(maxHeaderCount: 5)
        let four = (1...4).map { "X-\($0): v\r\n" }.joined()
        let ok = parseValid("GET / HTTP/1.1\r\nHost: a\r\n\(four)\r\n", limits: limits)
        XCTAssertEqual(ok.first?.head.headers.count, 5)
        assertRejects("GET / HTTP/1.1\r\nHost: a\r\n\(four)X-5: v\r\n\r\n", status: 431, limits: limits)
    }

    func testContentLengthAtAndOverTheBodyLimit() {
        let limits = HTTP1Limits(maxBodyBytes: 10)
        let ok = parseValid("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123456789", limits: limits)
        XCTAssertEqual(ok.first?.body, "0123456789".bytes)
        // Known from Content-Length up front: rejected before any body byte arrives.
        assertRejects("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n", status: 413, limits: limits)
    }

    func testChunkedAtAndOverTheBodyLimit() {
        let limits = HTTP1Limits(maxBodyBytes: 10)
        let prefix = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        let ok = parseValid(prefix + "4\r\n0123\r\n6\r\n456789\r\n0\r\n\r\n", limits: limits)
        XCTAssertEqual(ok.first?.body, "0123456789".bytes)
        assertRejects(prefix + "4\r\n0123\r\n7\r\n456789A\r\n0\r\n\r\n", status: 413, limits: limits)
        // Rejected when the size line arrives, before the data.
        let outcome = drive([(prefix + "4\r\n0123\r\n7\r\n").bytes], limits: limits)
        XCTAssertEqual(outcome.error?.status, 413)
        XCTAssertEqual(outcome.messages.first?.body, "0123".bytes)
    }

    func testBodyLimitResetsBetweenPipelinedRequests() {
        let limits = HTTP1Limits(maxBodyBytes: 4)
        let one = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\n\r\n"
        XCTAssertEqual(parseValid(one + one, limits: limits).map(\.body), ["abcd".bytes, "abcd".bytes])
    }

    func testTrailerLimits() {
        let prefix = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nz\r\n0\r\n"
        // Trailer section of exactly 60 bytes ("T: " + padding + CRLF + CRLF), then 61. The
        // limit is shared with the head, which is 56 bytes here.
        func trailer(_ size: Int) -> String { "T: " + String(repeating: "t", count: size - 7) + "\r\n\r\n" }
        XCTAssertEqual(trailer(60).utf8.count, 60)
        let bytesLimit = HTTP1Limits(maxHeaderBytes: 60)
        XCTAssertEqual(parseValid(prefix + trailer(60), limits: bytesLimit).first?.body, "z".bytes)
        assertRejects(prefix + trailer(61), status: 431, limits: bytesLimit)

        let countLimit = HTTP1Limits(maxHeaderCount: 2)
        XCTAssertEqual(parseValid("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nA: 1\r\nB: 2\r\n\r\n",
                                  limits: countLimit).count, 1)
        assertRejects("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n",
                      status: 431, limits: countLimit)
    }

    func testChunkLineLimit() {
        // "5;" + extension + CRLF of exactly 16 bytes, then 17.
        let limits = HTTP1Limits(maxChunkLineBytes: 16)
        let prefix = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        let exact = "5;" + String(repeating: "e", count: 12) + "\r\n"
        XCTAssertEqual(exact.utf8.count, 16)
        XCTAssertEqual(parseValid(prefix + exact + "hello\r\n0\r\n\r\n", limits: limits).first?.body, "hello".bytes)
        assertRejects(prefix + "5;" + String(repeating: "e", count: 13) + "\r\nhello\r\n0\r\n\r\n", status: 400, limits: limits)
        // An endless extension is cut off at the limit.
        assertRejects(prefix + "5;" + String(repeating: "e", count: 100), status: 400, limits: limits)
    }
}
