@testable import Proxy
import Config
import HTTP1Codec
import XCTest

/// Variable expansion, x-forwarded-* edits and the client address behind trusted proxies.
final class HeaderRulesTests: XCTestCase {
    private func request(headers: [(String, String)] = [], address: String = "192.0.2.1:5000", trusted: [String] = [],
                         requestID: String = "") -> EdgeCallRequest {
        var route = RouteConfig(match: .prefix("/"), cluster: "backend")
        route.name = "orders"
        route.forwardedHeaders = ForwardedHeadersConfig(trustedProxies: trusted.compactMap { CIDRBlock(parsing: $0) })
        let head = HTTPRequestHead(method: "POST", target: "/a.B/C", path: "/a.B/C", versionMinor: 1,
                                   headers: HTTPHeaders(headers), keepAlive: true, isUpgrade: false, bodyKind: .none)
        return EdgeCallRequest(route: route, listenerName: "web", head: head, webSocketMetadata: nil,
                               downstreamAddress: address, downstreamHost: EdgeCallRequest.host(of: address), secure: true, requestID: requestID)
    }

    private func expand(_ text: String, _ request: EdgeCallRequest, claims: [String: String] = [:]) throws -> String {
        try HeaderTemplate(parsing: text).expand(request, claims: claims)
    }

    func testVariablesExpand() throws {
        let req = request(headers: [("X-Tenant", "t1"), ("x-request-id", "client")], address: "[2001:db8::1]:443", requestID: "resolved")
        XCTAssertEqual(try expand("%DOWNSTREAM_REMOTE_ADDRESS%", req), "[2001:db8::1]:443")
        XCTAssertEqual(try expand("%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%", req), "2001:db8::1")
        XCTAssertEqual(try expand("%ROUTE%/%CLUSTER%", req), "orders/backend")
        XCTAssertEqual(try expand("t=%REQ(x-tenant)%;missing=%REQ(x-none)%", req), "t=t1;missing=")
        XCTAssertEqual(try expand("%REQ(x-request-id)%", req), "resolved", "the call's resolved id")
        XCTAssertEqual(try expand("user %CLAIM(sub)%", req, claims: ["sub": "alice"]), "user alice")
        XCTAssertEqual(try expand("100%% sure", req), "100% sure")
        // A claim cannot split a header block.
        XCTAssertEqual(try expand("u=%CLAIM(name)%", req, claims: ["name": "a\r\nx-evil: 1\u{7F}"]), "u=ax-evil: 1")
        XCTAssertEqual(try HeaderTemplate(parsing: "plain").constant, "plain")
        XCTAssertNil(try HeaderTemplate(parsing: "%ROUTE%").constant)
    }

    func testTemplateSyntaxErrors() {
        for (text, start) in [("%ROUTE", "unterminated variable"), ("%NOPE%", "unknown variable %NOPE%"),
                              ("%REQ()%", "%REQ()% needs a name"), ("%REQ(a b)%", "invalid header name")] {
            XCTAssertThrowsError(try HeaderTemplate(parsing: text)) { error in
                XCTAssertTrue((error as? HeaderTemplate.SyntaxError)?.message.hasPrefix(start) == true, "\(text): \(error)")
            }
        }
    }

    func testForwardedForFromAnUntrustedPeerIsReplaced() {
        var grant = EdgeCallGrant()
        ForwardedFor.addEdits(request(headers: [("x-forwarded-for", "6.6.6.6"), ("x-forwarded-proto", "http")]), to: &grant)
        XCTAssertEqual(grant.upstreamEdits, [.set("x-forwarded-for", "192.0.2.1"), .set("x-forwarded-proto", "https")])
    }

    func testForwardedForFromATrustedPeerIsAppendedAndTheClientIsTheRightmostUntrustedHop() {
        let req = request(headers: [("x-forwarded-for", "198.51.100.4, 10.0.0.7"), ("x-forwarded-proto", "http")],
                          address: "10.0.0.1:40000", trusted: ["10.0.0.0/8"])
        var grant = EdgeCallGrant()
        ForwardedFor.addEdits(req, to: &grant)
        XCTAssertEqual(grant.upstreamEdits, [.set("x-forwarded-for", "198.51.100.4, 10.0.0.7, 10.0.0.1"), .set("x-forwarded-proto", "http")])
        XCTAssertEqual(ForwardedFor.clientHost(req), "198.51.100.4")
        // Every hop trusted: the left-most is the client. A malformed hop: trust stops, the peer is the client.
        XCTAssertEqual(ForwardedFor.clientHost(request(headers: [("x-forwarded-for", "10.9.9.9")], address: "10.0.0.1:1", trusted: ["10.0.0.0/8"])), "10.9.9.9")
        XCTAssertEqual(ForwardedFor.clientHost(request(headers: [("x-forwarded-for", "junk")], address: "10.0.0.1:1", trusted: ["10.0.0.0/8"])), "10.0.0.1")
    }
}
