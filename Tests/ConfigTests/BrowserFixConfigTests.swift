import Config
import XCTest

/// `cors.expose_headers: auto`, `cors.allow_http_headers_param` and `limits.max_http_headers_param_size`.
final class BrowserFixConfigTests: XCTestCase {
    private func config(cors: String, route: String = "", limits: String = "") -> ProxyConfig? {
        parseConfig("""
            \(limits)
            listeners:
              - name: a
                address: 127.0.0.1:0
                cors: \(cors)
                routes:
                  - prefix: /r
                    cluster: c
            \(route)
                  - prefix: /
                    cluster: c
            clusters: [{name: c, endpoints: ['h:1']}]
            """)
    }

    func testDefaultsExposeSentHeadersAndAllowTheParam() throws {
        let c = try XCTUnwrap(config(cors: "{allow_origins: ['*']}"))
        let policy = try XCTUnwrap(c.listeners[0].cors)
        XCTAssertTrue(policy.exposeSentHeaders)
        XCTAssertEqual(policy.exposeHeaders, [])
        XCTAssertTrue(policy.allowHTTPHeadersParam)
        XCTAssertEqual(c.limits.maxHTTPHeadersParamSize, 8192)
    }

    func testListMeansStaticAndAutoIsExplicit() throws {
        let listed = try XCTUnwrap(config(cors: "{allow_origins: ['*'], expose_headers: [X-Trace]}"))
        XCTAssertFalse(listed.listeners[0].cors!.exposeSentHeaders)
        XCTAssertEqual(listed.listeners[0].cors!.exposeHeaders, ["x-trace"])
        let empty = try XCTUnwrap(config(cors: "{allow_origins: ['*'], expose_headers: []}"))
        XCTAssertFalse(empty.listeners[0].cors!.exposeSentHeaders)
        let auto = try XCTUnwrap(config(cors: "{allow_origins: ['*'], expose_headers: auto}"))
        XCTAssertTrue(auto.listeners[0].cors!.exposeSentHeaders)
    }

    func testRouteOverridesModeAndSwitch() throws {
        let c = try XCTUnwrap(config(
            cors: "{allow_origins: ['*'], expose_headers: [x-a], allow_http_headers_param: false}",
            route: "        cors: {expose_headers: auto}"))
        let routed = try XCTUnwrap(c.listeners[0].routes[0].cors)
        XCTAssertTrue(routed.exposeSentHeaders)
        XCTAssertEqual(routed.exposeHeaders, [])
        XCTAssertFalse(routed.allowHTTPHeadersParam, "inherited from the listener")
        let other = try XCTUnwrap(c.listeners[0].routes[1].cors)
        XCTAssertFalse(other.exposeSentHeaders)
        XCTAssertEqual(other.exposeHeaders, ["x-a"])
    }

    /// A one-listener file whose line 4 is `cors: <cors>`.
    private func withCORS(_ cors: String) -> String {
        """
        listeners:
          - name: a
            address: 127.0.0.1:0
            cors: \(cors)
            routes: [{prefix: /, cluster: c}]
        clusters: [{name: c, endpoints: ['h:1']}]
        """
    }

    func testLocatedErrors() {
        assertConfigError(withCORS("{allow_origins: ['*'], expose_headers: sometimes}"), line: 4, column: 50,
                          path: "listeners[0].cors.expose_headers",
                          "expected \"auto\" (expose the headers each response carries) or a list of header names")
        assertConfigError(withCORS("{allow_origins: ['*'], allow_http_headers_param: maybe}"), line: 4, column: 60,
                          path: "listeners[0].cors.allow_http_headers_param", "expected true or false, got \"maybe\"")
        assertConfigError("""
            limits: {max_http_headers_param_size: 10}
            listeners: [{name: a, address: '127.0.0.1:0', routes: [{prefix: /, cluster: c}]}]
            clusters: [{name: c, endpoints: ['h:1']}]
            """, line: 1, column: 39, path: "limits.max_http_headers_param_size", "must be between 64 and 8MiB")
    }

    func testUnknownKeySuggestsTheRightOne() {
        do {
            _ = try ConfigLoader.parse(withCORS("{allow_origins: ['*'], allow_http_header_param: true}"), file: "bad.yaml")
            XCTFail("accepted an unknown key")
        } catch {
            XCTAssertTrue(error.message.contains("allow_http_headers_param"), error.message)
        }
    }

    func testReferenceFileDocumentsTheKeys() throws {
        let config = try ConfigLoader.load(path: repositoryConfigDirectory() + "/reference.yaml", environment: [:])
        XCTAssertEqual(config.limits.maxHTTPHeadersParamSize, 8192)
        let listener = config.listeners[0]
        XCTAssertEqual(listener.cors?.allowHTTPHeadersParam, true)
        XCTAssertEqual(listener.cors?.exposeSentHeaders, false, "the listener shows the list form")
        XCTAssertTrue(listener.routes.contains { $0.cors?.exposeSentHeaders == true }, "a route shows expose_headers: auto")
    }

    func testSizeLimitAccepted() throws {
        let c = try XCTUnwrap(config(cors: "{allow_origins: ['*']}", limits: "limits: {max_http_headers_param_size: 2KiB}"))
        XCTAssertEqual(c.limits.maxHTTPHeadersParamSize, 2048)
    }
}
