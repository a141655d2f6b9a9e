import Config
import HTTP1Codec
@testable import Proxy
import XCTest

final class CORSResponderTests: XCTestCase {
    private func preflight(origin: String, method: String = "POST", requestHeaders: String? = nil) -> HTTPRequestHead {
        var h = HTTPHeaders([("Host", "proxy"), ("Origin", origin), ("Access-Control-Request-Method", method)])
        if let requestHeaders { h.add(name: "Access-Control-Request-Headers", value: requestHeaders) }
        return HTTPRequestHead(method: "OPTIONS", target: "/a.B/C", path: "/a.B/C", versionMinor: 1, headers: h,
                               keepAlive: true, isUpgrade: false, bodyKind: .none)
    }

    private func value(_ headers: [(String, String)], _ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    func testAllowedPreflightListsTheGRPCWebHeadersAndExtras() {
        let policy = CORSPolicy(allowOrigins: ["https://*.example.com"], allowHeaders: ["X-Custom"], maxAge: .seconds(600),
                                allowCredentials: true)
        guard case .allowed(let h) = CORSResponder.preflight(preflight(origin: "https://app.example.com"), policy: policy) else {
            return XCTFail("preflight rejected")
        }
        XCTAssertEqual(value(h, "access-control-allow-origin"), "https://app.example.com")
        XCTAssertEqual(value(h, "access-control-allow-methods"), "POST, OPTIONS")
        XCTAssertEqual(value(h, "access-control-allow-headers"), "content-type, x-grpc-web, x-user-agent, grpc-timeout, x-custom")
        XCTAssertEqual(value(h, "access-control-max-age"), "600")
        XCTAssertEqual(value(h, "access-control-allow-credentials"), "true")
        XCTAssertNotNil(value(h, "vary"))
    }

    func testStarAllowHeadersEchoesTheRequest() {
        let policy = CORSPolicy(allowOrigins: ["*"], allowHeaders: ["*"])
        guard case .allowed(let h) = CORSResponder.preflight(preflight(origin: "http://a", requestHeaders: "x-a, x-b"), policy: policy) else {
            return XCTFail("preflight rejected")
        }
        XCTAssertEqual(value(h, "access-control-allow-headers"), "x-a, x-b")
    }

    func testRejectedPreflights() {
        let policy = CORSPolicy(allowOrigins: ["https://good.example"])
        for (head, p) in [(preflight(origin: "https://evil.example"), policy), (preflight(origin: "https://good.example", method: "PUT"), policy),
                          (preflight(origin: "https://good.example"), nil)] as [(HTTPRequestHead, CORSPolicy?)] {
            if case .allowed = CORSResponder.preflight(head, policy: p) { XCTFail("allowed \(head.headers.fields)") }
        }
        XCTAssertFalse(CORSResponder.isPreflight(HTTPRequestHead(method: "OPTIONS", target: "/", path: "/", versionMinor: 1,
                                                                 headers: HTTPHeaders([("Origin", "http://a")]), keepAlive: true,
                                                                 isUpgrade: false, bodyKind: .none)))
    }

    func testActualResponseHeaders() {
        let policy = CORSPolicy(allowOrigins: ["*"], exposeHeaders: ["X-Server-Id"])
        let h = CORSResponder.responseHeaders(origin: "http://a", policy: policy)
        XCTAssertEqual(value(h, "access-control-allow-origin"), "http://a")
        XCTAssertEqual(value(h, "access-control-expose-headers"), "grpc-status, grpc-message, x-server-id")
        XCTAssertEqual(value(h, "vary"), "Origin")
        XCTAssertEqual(value(CORSResponder.responseHeaders(origin: "http://a", policy: CORSPolicy(allowOrigins: ["*"])),
                             "access-control-expose-headers"), "grpc-status, grpc-message")
        XCTAssertTrue(CORSResponder.responseHeaders(origin: "http://b", policy: CORSPolicy(allowOrigins: ["http://a"])).isEmpty)
        XCTAssertTrue(CORSResponder.responseHeaders(origin: nil, policy: policy).isEmpty)
        XCTAssertTrue(CORSResponder.responseHeaders(origin: "http://a", policy: nil).isEmpty)
    }
}
