import GRPCWebCodec
import HTTP1Codec
@testable import Proxy
import Upstream
import XCTest

final class GRPCHeaderTranslationTests: XCTestCase {
    func testUpstreamRequestHeaders() {
        let browser = HTTPHeaders([
            ("Host", "proxy:8080"), ("Content-Type", "application/grpc-web-text+proto"), ("Content-Length", "12"),
            ("Connection", "keep-alive"), ("TE", "gzip"), ("Transfer-Encoding", "chunked"), ("grpc-timeout", "5S"),
            ("X-Grpc-Web", "1"), ("X-Trace-Bin", "AAEC"), ("Authorization", "Bearer t"), ("Upgrade", "h2c"),
        ])
        let h = GRPCHeaderTranslation.upstreamRequestHeaders(
            path: "/pkg.S/M", authority: "proxy:8080", contentType: browser["content-type"],
            metadata: browser, timeoutNanos: 1_500_000_000)
        XCTAssertEqual(Array(h.prefix(6)).map { $0.0 }, [":method", ":scheme", ":path", ":authority", "content-type", "te"])
        let dict = Dictionary(h, uniquingKeysWith: { a, _ in a })
        XCTAssertEqual(dict[":method"], "POST")
        XCTAssertEqual(dict[":path"], "/pkg.S/M")
        XCTAssertEqual(dict["content-type"], "application/grpc+proto")
        XCTAssertEqual(dict["te"], "trailers")
        XCTAssertEqual(dict["grpc-timeout"].flatMap(GRPCTimeout.parse), 1_500_000_000, "the remaining budget, not the browser's 5S")
        XCTAssertEqual(dict["grpc-accept-encoding"], "identity")
        XCTAssertEqual(dict["x-grpc-web"], "1")
        XCTAssertEqual(dict["x-trace-bin"], "AAEC", "-bin metadata passes untouched")
        XCTAssertEqual(dict["authorization"], "Bearer t")
        for dropped in ["host", "content-length", "connection", "transfer-encoding", "upgrade"] {
            XCTAssertNil(dict[dropped], dropped)
        }
        XCTAssertEqual(h.filter { $0.0 == "te" }.count, 1, "only te: trailers goes upstream")
        XCTAssertTrue(h.allSatisfy { $0.0 == $0.0.lowercased() }, "HTTP/2 needs lower-case names")
    }

    func testClientChosenAcceptEncodingIsKept() {
        let h = GRPCHeaderTranslation.upstreamRequestHeaders(
            path: "/a.B/C", authority: "x", contentType: "application/grpc-web",
            metadata: HTTPHeaders([("grpc-accept-encoding", "gzip")]), timeoutNanos: nil)
        XCTAssertEqual(h.filter { $0.0 == "grpc-accept-encoding" }.map { $0.1 }, ["gzip"])
        XCTAssertFalse(h.contains { $0.0 == "grpc-timeout" })
        XCTAssertEqual(h.first { $0.0 == "content-type" }?.1, "application/grpc")
    }

    func testResponseClassificationAndFiltering() {
        XCTAssertTrue(GRPCHeaderTranslation.isGRPCResponse([(":status", "200"), ("content-type", "application/grpc+proto")]))
        XCTAssertTrue(GRPCHeaderTranslation.isGRPCResponse([(":status", "503"), ("grpc-status", "14")]))
        XCTAssertFalse(GRPCHeaderTranslation.isGRPCResponse([(":status", "503"), ("content-type", "text/plain")]))
        XCTAssertFalse(GRPCHeaderTranslation.isGRPCResponse([(":status", "200"), ("content-type", "text/html")]))
        let out = GRPCHeaderTranslation.downstreamResponseHeaders([
            (":status", "200"), ("content-type", "application/grpc"), ("content-length", "9"), ("x-server-id", "u1"),
            ("grpc-status", "0"), ("trailer", "grpc-status"),
        ])
        XCTAssertEqual(out.map { $0.0 }, ["x-server-id", "grpc-status"])
    }

    func testStatusFieldsArePercentEncoded() {
        let f = GRPCHeaderTranslation.statusFields(.unavailable, "no route to é 100%")
        XCTAssertEqual(f.map { $0.0 }, ["grpc-status", "grpc-message"])
        XCTAssertEqual(f[0].1, "14")
        XCTAssertEqual(f[1].1, "no route to %C3%A9 100%25")
    }

    func testUpstreamFailureStatuses() {
        XCTAssertEqual(UpstreamFailureStatus.status(for: .reset(code: 7)).0, .unavailable)  // REFUSED_STREAM
        XCTAssertEqual(UpstreamFailureStatus.status(for: .reset(code: 8)).0, .cancelled)
        XCTAssertEqual(UpstreamFailureStatus.status(for: .reset(code: 2)).0, .internalError)
        XCTAssertEqual(UpstreamFailureStatus.status(for: .reset(code: 11)).0, .resourceExhausted)
        XCTAssertEqual(UpstreamFailureStatus.status(for: .connectFailed("refused")).0, .unavailable)
        XCTAssertEqual(UpstreamFailureStatus.status(for: .connectFailed("refused")).1, "upstream connect error: refused")
        XCTAssertEqual(UpstreamFailureStatus.status(for: .overloaded("full")).0, .unavailable)
        XCTAssertEqual(UpstreamFailureStatus.status(for: .noEndpoint("cluster c has no healthy endpoint")).0, .unavailable)
        XCTAssertEqual(UpstreamFailureStatus.status(for: .noEndpoint("cluster c has no healthy endpoint")).1,
                       "cluster c has no healthy endpoint", "not dressed up as a connect error")
        let (code, message) = UpstreamFailureStatus.status(forHTTPStatus: 503, body: Array("  backend overloaded\n".utf8))
        XCTAssertEqual(code, .unavailable)
        XCTAssertEqual(message, "backend overloaded")
        XCTAssertEqual(UpstreamFailureStatus.status(forHTTPStatus: 404, body: []).1, "upstream answered HTTP 404 without gRPC status")
        XCTAssertEqual(UpstreamFailureStatus.status(forHTTPStatus: 404, body: []).0, .unimplemented)
    }
}
