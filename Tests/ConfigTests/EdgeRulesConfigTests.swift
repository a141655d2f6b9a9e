import Config
import XCTest

/// Issue 13 config: rate_limits, concurrency_limit, header rules and forwarded_headers, decoded with located
/// errors.
final class EdgeRulesConfigTests: XCTestCase {
    private func config(route: String = "", cluster: String = "", listener: String = "") -> String {
        "listeners:\n  - name: web\n    address: 127.0.0.1:8080\n" + listener
            + "    routes:\n      - prefix: /\n        cluster: backend\n" + route
            + "clusters:\n  - name: backend\n    endpoints: [127.0.0.1:50051]\n" + cluster
    }

    func testRateLimitsDecode() throws {
        let text = config(route: """
                    rate_limits:
                      - {key: client_address, rate: 100/s, burst: 200}
                      - {key: {header: X-Api-Key}, rate: 20/30s, max_keys: 500}
                      - {key: {claim: sub}, rate: 10/m}
                      - {rate: 5/h}
                    concurrency_limit: {max_calls: 50, max_calls_per_client: 4, client_key: {header: x-api-key}}

            """)
        let limits = try XCTUnwrap(parseConfig(text)?.listeners[0].routes[0].limits)
        XCTAssertEqual(limits.id, "web/prefix:/")
        XCTAssertEqual(limits.rateLimits.map(\.key), [.clientAddress, .header("x-api-key"), .claim("sub"), .route])
        XCTAssertEqual(limits.rateLimits.map(\.burst), [200, 20, 10, 5], "burst defaults to the count")
        XCTAssertEqual(limits.rateLimits[1].rate.period, .seconds(30))
        XCTAssertEqual(limits.rateLimits[1].maxKeys, 500)
        XCTAssertEqual(limits.rateLimits[3].rate.period, .seconds(3600))
        XCTAssertEqual(limits.concurrency, ConcurrencyLimitConfig(maxCalls: 50, maxCallsPerClient: 4, clientKey: .header("x-api-key")))
        XCTAssertNil(parseConfig(config())?.listeners[0].routes[0].limits)
    }

    func testRateLimitErrorsAreLocated() {
        assertConfigError(config(route: "        rate_limits: [{rate: 10/d}]\n"), line: 7, column: 30,
                          path: "listeners[0].routes[0].rate_limits[0].rate",
                          "invalid rate \"10/d\" (expected a count per unit: 100/s, 10/m, 5/h or 20/30s)")
        assertConfigError(config(route: "        rate_limits: [{rate: 0/s}]\n"), line: 7, column: 30,
                          path: "listeners[0].routes[0].rate_limits[0].rate", "the count of rate \"0/s\" must be between 1 and 1000000000")
        assertConfigError(config(route: "        rate_limits: [{rate: 1/s, burstt: 2}]\n"), line: 7, column: 35,
                          path: "listeners[0].routes[0].rate_limits[0].burstt", "unknown key \"burstt\"; did you mean \"burst\"?")
        assertConfigError(config(route: "        rate_limits: [{rate: 1/s, key: client_adress}]\n"), line: 7, column: 40,
                          path: "listeners[0].routes[0].rate_limits[0].key",
                          "invalid key (or {header: name} / {claim: name}) \"client_adress\" (expected route or client_address); did you mean \"client_address\"?")
        assertConfigError(config(route: "        rate_limits: [{rate: 1/s, max_keys: 0}]\n"), line: 7, column: 45,
                          path: "listeners[0].routes[0].rate_limits[0].max_keys", "must be between 1 and 10000000")
        assertConfigError(config(route: "        concurrency_limit: {}\n"), line: 7, column: 28,
                          path: "listeners[0].routes[0].concurrency_limit", "concurrency_limit needs max_calls or max_calls_per_client")
        assertConfigError(config(route: "        rate_limit: []\n"), line: 7, column: 9,
                          path: "listeners[0].routes[0].rate_limit", "unknown key \"rate_limit\"; did you mean \"rate_limits\"?")
    }

    func testHeaderRulesDecodeAndClusterRulesComeFirst() throws {
        let text = config(route: """
                    request_headers: {add: {X-A: "%ROUTE%"}, remove: [x-b]}
                    response_trailers: {set: {x-t: v}}

            """, cluster: "    request_headers: {set: {x-c: c}}\n")
        let route = try XCTUnwrap(parseConfig(text)?.listeners[0].routes[0])
        XCTAssertEqual(route.headerRules.count, 2)
        XCTAssertEqual(route.headerRules[0].request.set.map(\.name), ["x-c"])
        XCTAssertEqual(route.headerRules[1].request.add.map(\.name), ["x-a"])
        XCTAssertEqual(route.headerRules[1].request.add[0].value, HeaderTemplate(parts: [.route]))
        XCTAssertEqual(route.headerRules[1].request.remove, ["x-b"])
        XCTAssertEqual(route.headerRules[1].responseTrailers.set.map(\.name), ["x-t"])
    }

    func testProtectedHeadersAreLocatedErrors() {
        assertConfigError(config(route: "        request_headers: {set: {host: x}}\n"), line: 7, column: 33,
                          path: "listeners[0].routes[0].request_headers.set.host",
                          "header \"host\" cannot be edited (the proxy writes it)")
        assertConfigError(config(route: "        response_trailers: {add: {grpc-status: \"0\"}}\n"), line: 7, column: 35,
                          path: "listeners[0].routes[0].response_trailers.add.grpc-status",
                          "header \"grpc-status\" cannot be edited (it carries the call's status)")
        assertConfigError(config(cluster: "    request_headers: {add: {upgrade: h2c}}\n"), line: 10, column: 29,
                          path: "clusters[0].request_headers.add.upgrade",
                          "hop-by-hop header \"upgrade\" cannot be edited (it describes one connection, not the call)")
        assertConfigError(config(route: "        request_headers: {add: {x-a: a}, set: {X-A: b}}\n"), line: 7, column: 48,
                          path: "listeners[0].routes[0].request_headers.set.X-A", "header \"x-a\" is edited twice")
    }

    func testForwardedHeaders() throws {
        let text = config(listener: "    forwarded_headers: {trusted_proxies: [10.0.0.0/8, \"2001:db8::/32\", 192.0.2.7]}\n")
        let listener = try XCTUnwrap(parseConfig(text)?.listeners[0])
        XCTAssertTrue(listener.forwardedHeaders.enabled)
        XCTAssertEqual(listener.forwardedHeaders.trustedProxies.map(\.description), ["10.0.0.0/8", "2001:db8:0:0:0:0:0:0/32", "192.0.2.7/32"])
        XCTAssertTrue(listener.routes[0].forwardedHeaders.isTrusted("10.3.3.3"), "copied to each route")
        XCTAssertFalse(listener.routes[0].forwardedHeaders.isTrusted("192.0.2.8"))
        assertConfigError(config(listener: "    forwarded_headers: {enabled: yes}\n"), line: 4, column: 34,
                          path: "listeners[0].forwarded_headers.enabled", "expected true or false, got \"yes\"")
    }
}

extension EdgeRulesConfigTests {
    /// config/reference.yaml documents every issue-13 key with a working value.
    func testReferenceFileDecodesTheEdgeRules() throws {
        let config = try ConfigLoader.load(path: repositoryConfigDirectory() + "/reference.yaml", environment: [:])
        let listener = config.listeners[0]
        XCTAssertEqual(listener.forwardedHeaders.trustedProxies.count, 2)
        let greeter = listener.routes[1]
        XCTAssertEqual(greeter.limits?.rateLimits.count, 2)
        XCTAssertEqual(greeter.limits?.concurrency?.maxCallsPerClient, 20)
        XCTAssertEqual(greeter.headerRules.count, 2, "the cluster's rules, then the route's")
        XCTAssertEqual(greeter.headerRules[1].responseTrailers.add.map(\.name), ["x-request-id"])
    }
}

extension EdgeRulesConfigTests {
    /// Limits are found by listener and route name (not position), so inserting a route keeps the others' buckets.
    func testLimitIDsNameTheRoute() throws {
        let text = """
            listeners:
              - name: web
                address: 127.0.0.1:8080
                routes:
                  - {prefix: /a, name: x, cluster: backend, rate_limits: [{rate: 1/s}]}
                  - {prefix: /b, name: x, cluster: backend, rate_limits: [{rate: 1/s}]}
                  - {prefix: /, cluster: backend, concurrency_limit: {max_calls: 1}}
            clusters:
              - name: backend
                endpoints: [127.0.0.1:50051]

            """
        let routes = try XCTUnwrap(parseConfig(text)?.listeners[0].routes)
        XCTAssertEqual(routes.map { $0.limits?.id }, ["web/x", "web/x#2", "web/prefix:/"])
    }
}
