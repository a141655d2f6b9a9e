import XCTest
import HTTP1Codec

final class HTTPHeadersTests: XCTestCase {
    private var sample: HTTPHeaders {
        HTTPHeaders([("Content-Type", "application/grpc-web-text"), ("X-Grpc-Web", "1"),
                     ("Connection", "keep-alive, Upgrade"), ("x-multi", "a"), ("X-MULTI", "b")])
    }

    func testLookupsAreCaseInsensitiveAndOrdered() {
        let h = sample
        XCTAssertEqual(h.count, 5)
        XCTAssertEqual(h["content-type"], "application/grpc-web-text")
        XCTAssertEqual(h["CONTENT-TYPE"], "application/grpc-web-text")
        XCTAssertEqual(h["x-multi"], "a")
        XCTAssertEqual(h.values("X-Multi"), ["a", "b"])
        XCTAssertEqual(h.values("absent"), [])
        XCTAssertNil(h["absent"])
        XCTAssertNil(h["content-typ"])
        XCTAssertTrue(h.contains("x-grpc-web"))
        XCTAssertFalse(h.contains("x-grpc"))
    }

    func testContainsToken() {
        let h = sample
        XCTAssertTrue(h.containsToken("connection", "upgrade"))
        XCTAssertTrue(h.containsToken("Connection", "KEEP-ALIVE"))
        XCTAssertFalse(h.containsToken("connection", "close"))
        XCTAssertFalse(h.containsToken("connection", "keep"))
        XCTAssertFalse(h.containsToken("upgrade", "upgrade"))
        let spaced = HTTPHeaders([("TE", " trailers ,\tdeflate "), ("TE", "gzip")])
        XCTAssertTrue(spaced.containsToken("te", "trailers"))
        XCTAssertTrue(spaced.containsToken("te", "deflate"))
        XCTAssertTrue(spaced.containsToken("te", "gzip"))
        XCTAssertFalse(spaced.containsToken("te", ""))
    }

    func testAddRemoveAndReplace() {
        var h = sample
        h.add(name: "New", value: "1")
        XCTAssertEqual(h.fields.last?.name, "New")
        h.remove("X-MULTI")
        XCTAssertEqual(h.count, 4)
        XCTAssertFalse(h.contains("x-multi"))
        h.replaceOrAdd(name: "content-type", value: "application/grpc-web+proto")
        XCTAssertEqual(h.values("Content-Type"), ["application/grpc-web+proto"])
        XCTAssertEqual(h.fields.last?.name, "content-type")
        h.remove("nothing")
        XCTAssertEqual(h.count, 4)
    }

    func testSequenceAndEquality() {
        let h = sample
        XCTAssertEqual(h.map(\.name), ["Content-Type", "X-Grpc-Web", "Connection", "x-multi", "X-MULTI"])
        XCTAssertEqual(h, sample)
        XCTAssertNotEqual(h, HTTPHeaders([("content-type", "application/grpc-web-text")]))
        var other = sample
        other.remove("x-multi")
        other.add(name: "x-multi", value: "a")
        other.add(name: "X-MULTI", value: "b")
        XCTAssertEqual(other, h)
        XCTAssertTrue(HTTPHeaders().isEmpty)
        XCTAssertEqual(HTTPHeaders(), HTTPHeaders([]))
    }
}
