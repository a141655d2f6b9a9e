import Config
import HTTP1Codec
@testable import Proxy
import XCTest

/// The computed expose list and the `$httpHeaders` merge and policy checks (the wire side is in
/// Tests/Integration/test_preflight_free.py and test_expose_headers.py).
final class BrowserFixTests: XCTestCase {
    private let origin = "https://app.example"

    // MARK: Access-Control-Expose-Headers

    private func head(_ fields: [(String, String)], policy: CORSPolicy) -> [(String, String)] {
        var h = [("Content-Type", "application/grpc-web")] + fields
        let start = h.count
        h += CORSResponder.responseHeaders(origin: origin, policy: policy)
        CORSResponder.exposeSentFields(in: &h, corsStart: start)
        return h
    }

    private func value(_ h: [(String, String)], _ name: String) -> String? {
        h.first { $0.0.lowercased() == name }?.1
    }

    func testExposeListNamesTheSentFieldsOnceWithoutContentType() {
        let h = head([("x-server-id", "u1"), ("x-multi", "1"), ("X-Multi", "2"), ("grpc-accept-encoding", "identity")],
                     policy: CORSPolicy(allowOrigins: ["*"], exposeSentHeaders: true))
        XCTAssertEqual(value(h, "access-control-expose-headers"), "x-server-id, x-multi, grpc-accept-encoding")
        XCTAssertEqual(value(h, "access-control-allow-origin"), origin)
    }

    func testTrailersOnlyFieldsAreExposed() {
        let h = head([("grpc-status", "5"), ("grpc-message", "gone"), ("x-reason", "r")],
                     policy: CORSPolicy(allowOrigins: ["*"], exposeSentHeaders: true))
        XCTAssertEqual(value(h, "access-control-expose-headers"), "grpc-status, grpc-message, x-reason")
    }

    func testManyFieldsStayLinearWithoutDedupe() {
        let fields = (0..<2000).map { ("x-f\($0 % 1000)", "v") }
        let h = head(fields, policy: CORSPolicy(allowOrigins: ["*"], exposeSentHeaders: true))
        let names = value(h, "access-control-expose-headers")?.split(separator: ",") ?? []
        XCTAssertEqual(names.count, 2000, "every field named; repeats allowed past maxDedupedFields")
    }

    func testNothingToExposeDropsTheField() {
        let h = head([], policy: CORSPolicy(allowOrigins: ["*"], exposeSentHeaders: true))
        XCTAssertNil(value(h, "access-control-expose-headers"))
        XCTAssertEqual(value(h, "access-control-allow-origin"), origin)
    }

    func testResponseHeadersKeepTheExposeFieldWhereTheCallLooksForIt() {
        for policy in [CORSPolicy(allowOrigins: ["*"]), CORSPolicy(allowOrigins: ["*"], allowCredentials: false, exposeSentHeaders: true)] {
            let h = CORSResponder.responseHeaders(origin: origin, policy: policy)
            XCTAssertEqual(h[CORSResponder.exposeHeadersIndex].0, "Access-Control-Expose-Headers")
        }
    }

    // MARK: $httpHeaders

    private func request(_ target: String, _ headers: [(String, String)]) -> HTTPRequestHead {
        let path = String(target.prefix { $0 != "?" })
        return HTTPRequestHead(method: "POST", target: target, path: path, versionMinor: 1, headers: HTTPHeaders(headers),
                               keepAlive: true, isUpgrade: false, bodyKind: .contentLength(0))
    }

    private let simple: [(String, String)] = [("Host", "proxy.example"), ("Content-Type", "application/x-www-form-urlencoded;charset=utf-8"),
                                              ("Origin", "https://app.example")]

    func testMergeReplacesTheFormContentTypeAndCleansTheTarget() throws {
        let r = request("/a.B/C?%24httpHeaders=Content-Type%3Aapplication%2Fgrpc-web-text%0D%0Ax-custom%3A1%0D%0A", simple)
        guard case .merged(let merged, let names) = HTTPHeadersOverwrite.apply(to: r, limits: DownstreamLimits()) else {
            return XCTFail("not merged")
        }
        XCTAssertEqual(merged.target, "/a.B/C")
        XCTAssertEqual(merged.path, "/a.B/C")
        XCTAssertEqual(merged.headers["content-type"], "application/grpc-web-text")
        XCTAssertEqual(merged.headers.values("content-type").count, 1)
        XCTAssertEqual(merged.headers["x-custom"], "1")
        XCTAssertEqual(merged.headers["host"], "proxy.example")
        XCTAssertEqual(names, ["Content-Type", "x-custom"])
    }

    func testMergeRefusals() {
        func status(_ target: String, limits: DownstreamLimits = DownstreamLimits()) -> Int? {
            if case .refused(let status, _, _) = HTTPHeadersOverwrite.apply(to: request(target, simple), limits: limits) { return status }
            return nil
        }
        XCTAssertEqual(status("/a.B/C?%24httpHeaders=x-a%3A1"), 415, "no gRPC-Web content type")
        XCTAssertEqual(status("/a.B/C?%24httpHeaders=Content-Type%3Atext%2Fplain"), 415)
        XCTAssertEqual(status("/a.B/C?%24httpHeaders=Host%3Aevil"), 400)
        XCTAssertEqual(status("/a.B/C?%24httpHeaders=%ZZ"), 400)
        XCTAssertEqual(status("/a.B/C?%24httpHeaders=Content-Type%3Aapplication%2Fgrpc-web", limits: DownstreamLimits(maxHTTPHeadersParamSize: 10)), 431)
        XCTAssertEqual(status("/a.B/C?%24httpHeaders=Content-Type%3Aapplication%2Fgrpc-web%0D%0Ax%3A1",
                              limits: DownstreamLimits(maxHeadersCount: 3)), 431, "4 fields once merged")
        if case .absent = HTTPHeadersOverwrite.apply(to: request("/a.B/C?x=1", simple), limits: DownstreamLimits()) {} else {
            XCTFail("a query without the parameter is left alone")
        }
    }

    func testPolicyStandsInForThePreflight() {
        let r = request("/a.B/C", simple)
        let policy = CORSPolicy(allowOrigins: ["https://app.example"], allowHeaders: ["x-custom"])
        XCTAssertNil(HTTPHeadersOverwrite.refusal(r, names: ["Content-Type", "X-Grpc-Web", "x-custom", "grpc-timeout"], policy: policy))
        XCTAssertNotNil(HTTPHeadersOverwrite.refusal(r, names: ["authorization"], policy: policy))
        XCTAssertNil(HTTPHeadersOverwrite.refusal(r, names: ["authorization"],
                                                  policy: CORSPolicy(allowOrigins: ["*"], allowHeaders: ["*"])))
        XCTAssertNotNil(HTTPHeadersOverwrite.refusal(r, names: [], policy: CORSPolicy(allowOrigins: ["https://other.example"])))
        XCTAssertNotNil(HTTPHeadersOverwrite.refusal(r, names: [], policy: nil), "cross-origin without CORS")
        var off = policy
        off.allowHTTPHeadersParam = false
        XCTAssertNotNil(HTTPHeadersOverwrite.refusal(r, names: [], policy: off))
        let sameOrigin = request("/a.B/C", [("Host", "proxy.example"), ("Origin", "https://proxy.example")])
        XCTAssertNil(HTTPHeadersOverwrite.refusal(sameOrigin, names: ["authorization"], policy: nil))
        XCTAssertNil(HTTPHeadersOverwrite.refusal(request("/a.B/C", [("Host", "p")]), names: ["x"], policy: nil), "no Origin: no browser")
    }

    func testSimpleRequestContentTypes() {
        XCTAssertTrue(HTTPHeadersOverwrite.isSimpleRequestContentType("application/x-www-form-urlencoded;charset=UTF-8"))
        XCTAssertTrue(HTTPHeadersOverwrite.isSimpleRequestContentType("Text/Plain"))
        XCTAssertFalse(HTTPHeadersOverwrite.isSimpleRequestContentType("multipart/form-data"))
        XCTAssertFalse(HTTPHeadersOverwrite.isSimpleRequestContentType("application/grpc-web"))
    }
}
