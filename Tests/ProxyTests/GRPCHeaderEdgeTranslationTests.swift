import GRPCWebCodec
import HTTP1Codec
@testable import Proxy
import Upstream
import XCTest

/// Header translation against hostile or broken peers (issue 9): final blocks always carry one valid status,
/// proxy-owned and hop-by-hop fields never cross.
final class GRPCHeaderEdgeTranslationTests: XCTestCase {
    private func status(_ fields: [(String, String)]) -> (String?, String?) {
        let s = fields.filter { $0.0 == "grpc-status" }.map { $0.1 }
        let m = fields.filter { $0.0 == "grpc-message" }.map { $0.1 }
        XCTAssertLessThanOrEqual(s.count, 1, "\(fields)")
        XCTAssertLessThanOrEqual(m.count, 1, "\(fields)")
        return (s.first, m.first.map(GRPCMessageEncoding.percentDecode))
    }

    func testTrailersWithoutStatusGet13() {
        let out = GRPCHeaderTranslation.downstreamResponseHeaders([("x-custom", "1")])
        let (code, message) = status(out)
        XCTAssertEqual(code, "13")
        XCTAssertEqual(message, "upstream sent no grpc-status")
        XCTAssertTrue(out.contains { $0 == ("x-custom", "1") })
    }

    func testTrailersOnlyWithoutStatusGet13WhenTheCallerSaysEndStream() {
        let block: [(String, String)] = [(":status", "200"), ("content-type", "application/grpc"), ("x-a", "b")]
        XCTAssertEqual(status(GRPCHeaderTranslation.downstreamResponseHeaders(block, endStream: true)).0, "13")
        // Without END_STREAM the same block is ordinary response headers: no status is added.
        XCTAssertEqual(GRPCHeaderTranslation.downstreamResponseHeaders(block).map { $0.0 }, ["x-a"])
    }

    func testRepeatedStatusBecomes13AndKeepsTheFirstMessage() {
        let out = GRPCHeaderTranslation.downstreamResponseHeaders([
            ("grpc-status", "0"), ("grpc-status", "13"), ("grpc-message", "first%20one"), ("grpc-message", "second"),
        ])
        let (code, message) = status(out)
        XCTAssertEqual(code, "13")
        XCTAssertEqual(message, "upstream sent 2 grpc-status values (0, 13); its grpc-message: first one")
    }

    func testRepeatedStatusInATrailersOnlyBlockIsNormalizedToo() {
        let out = GRPCHeaderTranslation.downstreamResponseHeaders([
            (":status", "200"), ("content-type", "application/grpc"), ("grpc-status", "0"), ("grpc-status", "5"),
        ])
        XCTAssertEqual(status(out).0, "13")
    }

    func testRepeatedMessageKeepsTheFirst() {
        let out = GRPCHeaderTranslation.downstreamResponseHeaders([
            ("grpc-status", "5"), ("grpc-message", "first"), ("grpc-message", "second"), ("x-k", "v"),
        ])
        XCTAssertEqual(status(out).0, "5")
        XCTAssertEqual(status(out).1, "first")
        XCTAssertTrue(out.contains { $0 == ("x-k", "v") })
    }

    func testInvalidStatusBecomes13() {
        for bad in ["", "abc", "-1", "1 ", "99999999999"] {
            let (code, message) = status(GRPCHeaderTranslation.downstreamResponseHeaders([("grpc-status", bad)]))
            XCTAssertEqual(code, "13", bad)
            XCTAssertTrue(message?.hasPrefix("upstream sent an invalid grpc-status") == true, bad)
        }
        // Codes beyond the known 0...16 are valid numbers; clients map them to UNKNOWN themselves.
        XCTAssertEqual(status(GRPCHeaderTranslation.downstreamResponseHeaders([("grpc-status", "42")])).0, "42")
    }

    func testAWellFormedFinalBlockIsUntouched() {
        let block: [(String, String)] = [("grpc-status", "7"), ("grpc-message", "denied"), ("x-t", "1")]
        XCTAssertTrue(GRPCHeaderTranslation.downstreamResponseHeaders(block).elementsEqual(block, by: ==))
    }

    func testCORSAndHopByHopResponseFieldsAreDropped() {
        let out = GRPCHeaderTranslation.downstreamResponseHeaders([
            (":status", "200"), ("content-type", "application/grpc"),
            ("access-control-allow-origin", "*"), ("access-control-allow-credentials", "true"),
            ("access-control-expose-headers", "x-secret"), ("access-control-max-age", "1"),
            ("proxy-authenticate", "Basic"), ("te", "trailers"), ("keep-alive", "5"),
            ("access-control", "not a CORS field"), ("x-server-id", "u1"),
        ])
        XCTAssertEqual(out.map { $0.0 }, ["access-control", "x-server-id"])
    }

    func testHeadersNamedInConnectionStayHere() {
        let browser = HTTPHeaders([
            ("Connection", "keep-alive, X-Hop , x-other"), ("X-Hop", "1"), ("x-other", "2"), ("X-Kept", "3"),
            ("Proxy-Authorization", "Basic abc"),
        ])
        let h = GRPCHeaderTranslation.upstreamRequestHeaders(
            path: "/a.B/C", authority: "x", contentType: "application/grpc-web", metadata: browser, timeoutNanos: nil)
        let names = h.map { $0.0 }
        XCTAssertFalse(names.contains("x-hop"))
        XCTAssertFalse(names.contains("x-other"))
        XCTAssertFalse(names.contains("proxy-authorization"))
        XCTAssertTrue(names.contains("x-kept"))
        XCTAssertEqual(h.filter { $0.0 == "grpc-accept-encoding" }.map { $0.1 }, ["identity"])
    }

    func testConnectionCannotRemoveTheProxysOwnFields() {
        let browser = HTTPHeaders([("Connection", "content-type, te, grpc-accept-encoding"), ("grpc-accept-encoding", "gzip")])
        let h = GRPCHeaderTranslation.upstreamRequestHeaders(
            path: "/a.B/C", authority: "x", contentType: "application/grpc-web", metadata: browser, timeoutNanos: nil)
        XCTAssertEqual(h.first { $0.0 == "content-type" }?.1, "application/grpc")
        XCTAssertEqual(h.first { $0.0 == "te" }?.1, "trailers")
        // The client's grpc-accept-encoding was hop-by-hop, so the proxy asks for identity itself.
        XCTAssertEqual(h.filter { $0.0 == "grpc-accept-encoding" }.map { $0.1 }, ["identity"])
    }

    func testHeaderListFailureIs13WithTheLimit() {
        let (code, message) = UpstreamFailureStatus.status(for: .headerListTooLarge(limit: 65536))
        XCTAssertEqual(code, .internalError)
        XCTAssertTrue(message.contains("header list exceeded 65536 bytes"), message)
    }
}
