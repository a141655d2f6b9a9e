@testable import Proxy
import XCTest

final class RequestIdentityTests: XCTestCase {
    private let valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

    func testValidTraceparentIsKept() {
        XCTAssertEqual(RequestIdentity.validTraceID(valid), "4bf92f3577b34da6a3ce929d0e0e4736")
        var random = IDRandom()
        let identity = RequestIdentity(requestID: "abc", traceparent: valid, random: &random)
        var headers: [(String, String)] = [("traceparent", valid), ("x-request-id", "abc")]
        identity.apply(to: &headers)
        XCTAssertEqual(headers.map { "\($0.0)=\($0.1)" }, ["traceparent=\(valid)", "x-request-id=abc"])
    }

    func testMalformedTraceparentsAreRejected() {
        for bad in ["", "garbage", valid.uppercased(), "01" + valid.dropFirst(2), valid + "-00",
                    "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                    "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
                    "00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01",
                    "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01"] {
            XCTAssertNil(RequestIdentity.validTraceID(String(bad)), String(bad))
        }
    }

    func testMissingIdsAreGeneratedAndAMalformedTraceparentReplaced() {
        var random = IDRandom()
        let identity = RequestIdentity(requestID: nil, traceparent: "garbage", random: &random)
        XCTAssertEqual(identity.requestID.count, 32)
        XCTAssertNotNil(RequestIdentity.validTraceID(identity.traceparent))
        XCTAssertEqual(RequestIdentity.validTraceID(identity.traceparent), identity.traceID)
        var headers: [(String, String)] = [(":path", "/a/b"), ("traceparent", "garbage"), ("tracestate", "k=v")]
        identity.apply(to: &headers)
        XCTAssertEqual(headers.map(\.0), [":path", "tracestate", "x-request-id", "traceparent"])
        XCTAssertEqual(headers.last?.1, identity.traceparent)
        let other = RequestIdentity(requestID: nil, traceparent: nil, random: &random)
        XCTAssertNotEqual(other.requestID, identity.requestID)
        XCTAssertNotEqual(other.traceID, identity.traceID)
    }

    func testHeaderScanIsCaseInsensitive() {
        let found = RequestIdentity.scan([(name: "X-Request-ID", value: "r"), (name: "TraceParent", value: "t"),
                                          (name: "User-Agent", value: "u")])
        XCTAssertEqual(found.requestID, "r")
        XCTAssertEqual(found.traceparent, "t")
        XCTAssertEqual(found.userAgent, "u")
    }

    func testMessageTruncationKeepsWholeCharacters() {
        let s = String(repeating: "a", count: 255) + "é" + "bc"
        XCTAssertEqual(CallSummary.truncated(s, maxBytes: 256), String(repeating: "a", count: 255))
        XCTAssertEqual(CallSummary.truncated("short", maxBytes: 256), "short")
    }
}
