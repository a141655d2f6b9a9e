import XCTest
import Config

/// Issue 9 ("safe at the edge"), config half: refused CORS combinations, caps on every size and count, the admin
/// connection cap, and listening addresses that overlap once resolved.
final class EdgeConfigTests: XCTestCase {
    static let clusters = "clusters:\n  - name: backend\n    endpoints: [127.0.0.1:50051]\n"

    func config(listenerCORS: String? = nil, routeCORS: String? = nil, extra: String = "") -> String {
        var text = "listeners:\n  - name: web\n    address: 127.0.0.1:8080\n"
        if let listenerCORS { text += "    cors: \(listenerCORS)\n" }
        text += "    routes:\n      - prefix: /\n        cluster: backend\n"
        if let routeCORS { text += "        cors: \(routeCORS)\n" }
        return text + Self.clusters + extra
    }

    // MARK: CORS: "*" with credentials (Fetch standard, CORS check)

    static let credentialsMessage = "allow_origins \"*\" cannot be combined with allow_credentials: true. "
        + "The Fetch standard's CORS check fails a credentialed response whose Access-Control-Allow-Origin is \"*\", "
        + "and echoing every origin instead would let any site make calls with the user's cookies; "
        + "list the trusted origins instead"

    func testWildcardWithCredentialsIsRefused() {
        assertConfigError(config(listenerCORS: "{allow_origins: [\"*\"], allow_credentials: true}"),
                          line: 4, column: 53, path: "listeners[0].cors.allow_credentials", Self.credentialsMessage)
    }

    func testRouteCredentialsOverListenerWildcardIsRefused() {
        assertConfigError(config(listenerCORS: "{allow_origins: [\"*\"]}", routeCORS: "{allow_credentials: true}"),
                          line: 8, column: 35, path: "listeners[0].routes[0].cors.allow_credentials", Self.credentialsMessage)
    }

    func testRouteWildcardOverListenerCredentialsIsRefused() {
        assertConfigError(config(listenerCORS: "{allow_origins: [\"https://a.test\"], allow_credentials: true}",
                                 routeCORS: "{allow_origins: [\"https://b.test\", \"*\"]}"),
                          line: 8, column: 50, path: "listeners[0].routes[0].cors.allow_origins[1]", Self.credentialsMessage)
    }

    func testListedOriginsWithCredentialsAndWildcardWithoutAreFine() throws {
        let withCredentials = try XCTUnwrap(parseConfig(config(
            listenerCORS: "{allow_origins: [\"https://a.test\", \"https://*.b.test\"], allow_credentials: true}")))
        XCTAssertEqual(withCredentials.listeners[0].cors?.sendsCredentials, true)
        let wildcard = try XCTUnwrap(parseConfig(config(listenerCORS: "{allow_origins: [\"*\"], allow_credentials: false}")))
        XCTAssertEqual(wildcard.listeners[0].cors?.allowOrigins, ["*"])
    }

    func testNullOriginOnlyWhenListed() throws {
        let listed = try XCTUnwrap(parseConfig(config(listenerCORS: "{allow_origins: [\"null\", \"https://a.test\"]}")))
        XCTAssertTrue(try XCTUnwrap(listed.listeners[0].cors).allows(origin: "null"))
        let wildcard = try XCTUnwrap(parseConfig(config(listenerCORS: "{allow_origins: [\"*\"]}")))
        XCTAssertFalse(try XCTUnwrap(wildcard.listeners[0].cors).allows(origin: "null"))
        XCTAssertTrue(try XCTUnwrap(wildcard.listeners[0].cors).allows(origin: "https://x.test"))
    }

    func testPolicyBuiltInCodeNeverSendsCredentialsForWildcard() {
        XCTAssertFalse(CORSPolicy(allowOrigins: ["*"], allowCredentials: true).sendsCredentials)
        XCTAssertTrue(CORSPolicy(allowOrigins: ["https://a.test"], allowCredentials: true).sendsCredentials)
    }

    // MARK: Caps on sizes, counts and durations

    func testSizeNearIntMaxIsALocatedError() {
        assertConfigError(config(extra: "websocket:\n  max_frame_size: 9223372036854775807\n"), line: 11, column: 19,
                          path: "websocket.max_frame_size", "must be between 1 and 1GiB")
        assertConfigError(config(extra: "websocket:\n  max_frame_size: 9223372036854775808\n"), line: 11, column: 19,
                          path: "websocket.max_frame_size", "must be between 1 and 1GiB")
        assertConfigError(config(extra: "websocket:\n  max_message_size: 2GiB\n"), line: 11, column: 21,
                          path: "websocket.max_message_size", "must be between 1 and 1GiB")
    }

    func testEverySizeAndCountKeyIsCapped() {
        let huge = "9223372036854775807"
        let cases: [(String, String, Int, String)] = [
            ("limits:\n  max_request_headers_size: \(huge)\n", "limits.max_request_headers_size", 29, "must be between 1 and 8MiB"),
            ("limits:\n  max_headers_count: \(huge)\n", "limits.max_headers_count", 22, "must be between 1 and 10000"),
            ("limits:\n  max_request_body_size: \(huge)\n", "limits.max_request_body_size", 26, "must be between 0 and 1GiB"),
            ("limits:\n  max_message_size: \(huge)\n", "limits.max_message_size", 21, "must be between 1 and 1GiB"),
            ("limits:\n  write_buffer_limit: \(huge)\n", "limits.write_buffer_limit", 23, "must be between 1 and 1GiB"),
            ("limits:\n  max_connections: \(huge)\n", "limits.max_connections", 20, "must be between 1 and 10000000"),
            ("admin:\n  address: 127.0.0.1:9901\n  max_connections: \(huge)\n", "admin.max_connections", 20,
             "must be between 1 and 10000"),
        ]
        for (extra, path, column, message) in cases {
            let line = extra.hasPrefix("admin") ? 12 : 11
            assertConfigError(config(extra: extra), line: line, column: column, path: path, message)
        }
        let clusterCases: [(String, String, String)] = [
            ("max_pending", "clusters[0].max_pending", "must be between 0 and 1000000"),
            ("health_check: {healthy_threshold", "clusters[0].health_check.healthy_threshold", "must be between 1 and 1000000"),
            ("outlier_detection: {consecutive_failures", "clusters[0].outlier_detection.consecutive_failures",
             "must be between 0 and 1000000"),
        ]
        for (key, path, message) in clusterCases {
            let close = key.contains("{") ? "}" : ""
            let text = config() + "    \(key): \(huge)\(close)\n"
            do {
                _ = try ConfigLoader.parse(text, file: "bad.yaml")
                XCTFail("accepted \(key): \(huge)")
            } catch {
                XCTAssertEqual(error.path, path)
                XCTAssertEqual(error.message, message)
                XCTAssertEqual(error.line, 10)
            }
        }
        let route = config().replacingOccurrences(of: "cluster: backend\n", with: "cluster: backend\n        max_request_bytes: 2GiB\n")
        assertConfigError(route, line: 7, column: 28, path: "listeners[0].routes[0].max_request_bytes", "must be between 1 and 1GiB")
    }

    func testDurationsAreCapped() {
        assertConfigError(config(extra: "drain_timeout: 9000h\n"), line: 10, column: 16, path: "drain_timeout",
                          "must be at most 8760h (365 days)")
        XCTAssertEqual(parseConfig(config(extra: "drain_timeout: 8760h\n"))?.drainTimeout, .seconds(365 * 24 * 3600))
    }

    func testLargestAllowedValuesAreAccepted() throws {
        let parsed = try XCTUnwrap(parseConfig(config(extra: """
            limits: {max_message_size: 1GiB, max_request_headers_size: 8MiB, max_connections: 10000000}
            websocket: {max_frame_size: 1GiB, max_message_size: 1GiB}

            """)))
        XCTAssertEqual(parsed.websocket.maxFrameSize, 1 << 30)
        XCTAssertEqual(parsed.limits.maxMessageSize, 1 << 30)
    }

    // MARK: Admin

    func testAdminMaxConnections() throws {
        let defaults = try XCTUnwrap(parseConfig(config(extra: "admin:\n  address: 127.0.0.1:9901\n")))
        XCTAssertEqual(defaults.admin?.maxConnections, 64)
        let set = try XCTUnwrap(parseConfig(config(extra: "admin:\n  address: 127.0.0.1:9901\n  max_connections: 4\n")))
        XCTAssertEqual(set.admin?.maxConnections, 4)
        assertConfigError(config(extra: "admin:\n  address: 127.0.0.1:9901\n  max_connections: 0\n"), line: 12, column: 20,
                          path: "admin.max_connections", "must be between 1 and 10000")
        assertConfigError(config(extra: "admin:\n  address: 127.0.0.1:9901\n  max_conections: 4\n"), line: 12, column: 3,
                          path: "admin.max_conections", "unknown key \"max_conections\"; did you mean \"max_connections\"?")
    }

    // MARK: Overlapping listening addresses

    func twoListeners(_ a: String, _ b: String) -> String {
        """
        listeners:
          - name: one
            address: "\(a)"
            routes: [{prefix: /, cluster: backend}]
          - name: two
            address: "\(b)"
            routes: [{prefix: /, cluster: backend}]

        """ + Self.clusters
    }

    func testLocalhostAndLoopbackOverlap() {
        assertConfigError(config() + "admin:\n  address: localhost:8080\n", line: 11, column: 12, path: "admin.address",
                          "admin address localhost:8080 overlaps 127.0.0.1:8080 of listeners[0]: both bind 127.0.0.1")
        assertConfigError(twoListeners("127.0.0.1:9000", "localhost:9000"), line: 6, column: 14, path: "listeners[1].address",
                          "listener address localhost:9000 overlaps 127.0.0.1:9000 of listeners[0]: both bind 127.0.0.1")
    }

    func testWildcardOverlapsEveryAddressOfItsFamily() {
        assertConfigError(twoListeners("127.0.0.1:9000", "0.0.0.0:9000"), line: 6, column: 14, path: "listeners[1].address",
                          "listener address 0.0.0.0:9000 overlaps 127.0.0.1:9000 of listeners[0]: 0.0.0.0 listens on every IPv4 address, 127.0.0.1 included")
        assertConfigError(twoListeners("0.0.0.0:9000", "10.1.2.3:9000"), line: 6, column: 14, path: "listeners[1].address",
                          "listener address 10.1.2.3:9000 overlaps 0.0.0.0:9000 of listeners[0]: 0.0.0.0 listens on every IPv4 address, 10.1.2.3 included")
        // IPv6 sockets are dual-stack: [::] takes the IPv4 addresses too.
        assertConfigError(twoListeners("[::]:9000", "127.0.0.1:9000"), line: 6, column: 14, path: "listeners[1].address",
                          "listener address 127.0.0.1:9000 overlaps [::]:9000 of listeners[0]: :: listens on every IPv4 and IPv6 address, 127.0.0.1 included")
        assertConfigError(config() + "admin:\n  address: 0.0.0.0:8080\n", line: 11, column: 12, path: "admin.address",
                          "admin address 0.0.0.0:8080 overlaps 127.0.0.1:8080 of listeners[0]: 0.0.0.0 listens on every IPv4 address, 127.0.0.1 included")
    }

    func testDistinctAddressesDoNotOverlap() {
        XCTAssertNotNil(parseConfig(twoListeners("127.0.0.1:9000", "127.0.0.2:9000")))
        XCTAssertNotNil(parseConfig(twoListeners("0.0.0.0:9000", "0.0.0.0:9001")))
        XCTAssertNotNil(parseConfig(twoListeners("0.0.0.0:9000", "[::1]:9000")), "an IPv4 wildcard does not take IPv6 addresses")
        XCTAssertNotNil(parseConfig(twoListeners("localhost:0", "127.0.0.1:0")), "port 0 never collides")
    }
}
