import XCTest
import HTTP1Codec

/// Issue #13 for the HTTP/1.1 parser: limits near Int.max with 64-bit sizes on the wire. Every length check must
/// compare without adding (a trap here would kill the worker and every connection on it).
final class RequestParserOverflowTests: XCTestCase {
    private let huge = HTTP1Limits(maxHeaderBytes: .max, maxHeaderCount: .max, maxBodyBytes: .max, maxChunkLineBytes: .max)
    private let chunkedHead = "POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"

    func testChunkOfIntMaxBytesIsAcceptedUnderAnIntMaxBodyLimit() {
        let outcome = parseAllSplits((chunkedHead + "7fffffffffffffff\r\nabc").bytes, limits: huge)
        XCTAssertNil(outcome.error)
        XCTAssertEqual(outcome.messages.first?.body, "abc".bytes)
        XCTAssertEqual(outcome.messages.first?.ended, false)
    }

    func testChunksSummingPastIntMaxAreRefusedNotTrapped() {
        for limit in [Int.max, Int.max - 1, Int.max / 2 + 1] {
            var limits = huge
            limits.maxBodyBytes = limit
            assertRejects(chunkedHead + "1\r\na\r\n7fffffffffffffff\r\n", status: 413, limits: limits)
        }
        // One hex digit more than fits in Int is a 400, whatever the limits.
        assertRejects(chunkedHead + "10000000000000000\r\n", status: 400, limits: huge)
    }

    func testContentLengthNearIntMax() {
        let outcome = parseAllSplits("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9223372036854775807\r\n\r\nxy".bytes, limits: huge)
        XCTAssertNil(outcome.error)
        XCTAssertEqual(outcome.messages.first?.head.bodyKind, .contentLength(Int.max))
        XCTAssertEqual(outcome.messages.first?.body, "xy".bytes)
        assertRejects("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9223372036854775808\r\n\r\n", status: 400, limits: huge)
        var limits = huge
        limits.maxBodyBytes = Int.max - 1
        assertRejects("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9223372036854775807\r\n\r\n", status: 413, limits: limits)
    }

    func testHeadAndTrailersUnderIntMaxHeaderLimits() {
        let messages = parseValid(chunkedHead + "1\r\na\r\n0\r\nT: v\r\n\r\n", limits: huge)
        XCTAssertEqual(messages.map(\.body), ["a".bytes])
    }
}
