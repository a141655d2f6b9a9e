import XCTest
import Config

/// Each broken config asserts the exact line, column, key path and message of its error.
final class BrokenConfigTests: XCTestCase {
    /// A valid config; cases below break one thing at a time.
    static let clusters = """
        clusters:
          - name: backend
            endpoints: [127.0.0.1:50051]
        """

    func listener(routes: String = "      - prefix: /\n        cluster: backend") -> String {
        """
        listeners:
          - name: web
            address: 127.0.0.1:8080
            routes:
        \(routes)

        """
    }

    func testBaseConfigIsValid() {
        XCTAssertNotNil(parseConfig(listener() + Self.clusters))
    }

    // MARK: Unknown keys and structure

    func testUnknownTopLevelKeySuggestsNearest() {
        assertConfigError("listners: []\n", line: 1, column: 1, path: "listners",
                          "unknown key \"listners\"; did you mean \"listeners\"?")
    }

    func testUnknownClusterKeySuggestsNearest() {
        assertConfigError(listener() + """
            clusters:
              - name: backend
                endpoint: [127.0.0.1:50051]
            """, line: 9, column: 5, path: "clusters[0].endpoint",
            "unknown key \"endpoint\"; did you mean \"endpoints\"?")
    }

    func testUnknownKeyWithoutSuggestion() {
        assertConfigError("""
            listeners:
              - name: web
                colour: red
            """, line: 3, column: 5, path: "listeners[0].colour", "unknown key \"colour\"")
    }

    func testCamelCaseKeyFindsSnakeCase() {
        assertConfigError(listener(routes: "      - prefix: /\n        cluster: backend\n        cors: {allow_origins: [\"*\"], maxAge: 1h}") + Self.clusters,
                          line: 7, column: 38, path: "listeners[0].routes[0].cors.maxAge",
                          "unknown key \"maxAge\"; did you mean \"max_age\"?")
    }

    func testEmptyDocumentNeedsListeners() {
        assertConfigError("# nothing here\n", line: 1, column: 1, path: "listeners", "missing required key \"listeners\"")
        assertConfigError(Self.clusters, line: 1, column: 1, path: "listeners", "missing required key \"listeners\"")
    }

    func testListenersMustBeASequence() {
        assertConfigError("listeners:\n  name: web\n", line: 2, column: 3, path: "listeners",
                          "expected a sequence, got a mapping")
        assertConfigError("listeners: []\n", line: 1, column: 12, path: "listeners", "at least one listener is required")
    }

    func testMissingListenerAddress() {
        assertConfigError("""
            listeners:
              - name: web
                routes: []
            """, line: 2, column: 5, path: "listeners[0].address", "missing required key \"address\"")
    }

    func testEmptyRequiredValue() {
        assertConfigError("""
            listeners:
              - name:
                address: 127.0.0.1:80
            """, line: 2, column: 10, path: "listeners[0].name", "missing value for required key \"name\"")
    }

    func testListenerWithoutRoutes() {
        assertConfigError("""
            listeners:
              - name: web
                address: 127.0.0.1:80
                routes: []
            """, line: 4, column: 13, path: "listeners[0].routes", "a listener needs at least one route")
    }

    // MARK: Routes

    func testRouteReferencingUnknownCluster() {
        assertConfigError(listener(routes: """
                  - service: a.B
                    cluster: backend
                  - prefix: /
                    cluster: bakend
            """) + Self.clusters, line: 8, column: 18, path: "listeners[0].routes[1].cluster",
            "unknown cluster \"bakend\"")
    }

    func testErrorDescription() {
        do {
            _ = try ConfigLoader.parse(listener(routes: "      - prefix: /\n        cluster: bakend") + Self.clusters, file: "proxy.yaml")
            XCTFail("expected an error")
        } catch {
            XCTAssertEqual(error.description, "proxy.yaml:6:18: listeners[0].routes[0].cluster: unknown cluster \"bakend\"")
        }
    }

    func testRouteWithoutMatch() {
        assertConfigError(listener(routes: "      - cluster: backend") + Self.clusters,
                          line: 5, column: 9, path: "listeners[0].routes[0]",
                          "a route needs one of \"prefix\", \"service\" or \"method\"")
    }

    func testRouteWithTwoMatches() {
        assertConfigError(listener(routes: "      - prefix: /\n        service: a.B\n        cluster: backend") + Self.clusters,
                          line: 6, column: 9, path: "listeners[0].routes[0].service",
                          "a route takes only one of \"prefix\", \"service\" or \"method\" (found \"prefix\" and \"service\")")
    }

    func testRouteWithoutCluster() {
        assertConfigError(listener(routes: "      - prefix: /") + Self.clusters,
                          line: 5, column: 9, path: "listeners[0].routes[0].cluster", "missing required key \"cluster\"")
    }

    func testPrefixMustStartWithSlash() {
        assertConfigError(listener(routes: "      - prefix: api\n        cluster: backend") + Self.clusters,
                          line: 5, column: 17, path: "listeners[0].routes[0].prefix", "prefix must start with \"/\"")
    }

    func testServiceMustNotContainSlash() {
        assertConfigError(listener(routes: "      - service: /a.B\n        cluster: backend") + Self.clusters,
                          line: 5, column: 18, path: "listeners[0].routes[0].service",
                          "service must be a fully qualified service name without \"/\", e.g. \"helloworld.Greeter\"")
    }

    func testMethodNeedsExactlyOneSlash() {
        let message = "method must be \"package.Service/Method\" with exactly one \"/\""
        assertConfigError(listener(routes: "      - method: a.B/C/D\n        cluster: backend") + Self.clusters,
                          line: 5, column: 17, path: "listeners[0].routes[0].method", message)
        assertConfigError(listener(routes: "      - method: a.B\n        cluster: backend") + Self.clusters,
                          line: 5, column: 17, path: "listeners[0].routes[0].method", message)
        assertConfigError(listener(routes: "      - method: /a.B/C\n        cluster: backend") + Self.clusters,
                          line: 5, column: 17, path: "listeners[0].routes[0].method", message)
    }

    func testRouteAfterCatchAllIsUnreachable() {
        assertConfigError(listener(routes: """
                  - prefix: /
                    cluster: backend
                  - service: a.B
                    cluster: backend
            """) + Self.clusters, line: 7, column: 9, path: "listeners[0].routes[1]",
            "unreachable route: routes[0] (prefix \"/\") already matches every request this route would match")
    }

    func testShadowingAcrossMatchKinds() {
        // A service route covers its methods and longer prefixes inside it.
        assertConfigError(listener(routes: """
                  - service: a.B
                    cluster: backend
                  - headers: {x-v: "2"}
                    method: a.B/C
                    cluster: backend
            """) + Self.clusters, line: 7, column: 9, path: "listeners[0].routes[1]",
            "unreachable route: routes[0] (service \"a.B\") already matches every request this route would match")
        assertConfigError(listener(routes: """
                  - prefix: /a.
                    cluster: backend
                  - service: a.B
                    cluster: backend
            """) + Self.clusters, line: 7, column: 9, path: "listeners[0].routes[1]",
            "unreachable route: routes[0] (prefix \"/a.\") already matches every request this route would match")
    }

    func testHeaderConditionsKeepLaterRoutesReachable() {
        // The earlier route needs a header, so the later broader one is reachable; the
        // reverse order makes the header route unreachable.
        XCTAssertNotNil(parseConfig(listener(routes: """
                  - prefix: /
                    headers: {X-Canary: "1"}
                    cluster: backend
                  - prefix: /
                    cluster: backend
            """) + Self.clusters))
        assertConfigError(listener(routes: """
                  - prefix: /
                    cluster: backend
                  - prefix: /
                    headers: {x-canary: "1"}
                    cluster: backend
            """) + Self.clusters, line: 7, column: 9, path: "listeners[0].routes[1]",
            "unreachable route: routes[0] (prefix \"/\") already matches every request this route would match")
    }

    func testBadHeaderCondition() {
        assertConfigError(listener(routes: "      - prefix: /\n        headers: {\"bad name\": x}\n        cluster: backend") + Self.clusters,
                          line: 6, column: 19, path: "listeners[0].routes[0].headers.bad name",
                          "invalid header name \"bad name\"")
        assertConfigError(listener(routes: "      - prefix: /\n        headers: {X-A: 1, x-a: 2}\n        cluster: backend") + Self.clusters,
                          line: 6, column: 27, path: "listeners[0].routes[0].headers.x-a",
                          "header \"x-a\" is listed twice")
    }

    // MARK: Clusters and addresses

    func testEmptyEndpoints() {
        assertConfigError(listener() + "clusters:\n  - name: backend\n    endpoints: []\n",
                          line: 9, column: 16, path: "clusters[0].endpoints", "a cluster needs at least one endpoint")
    }

    func testEndpointPortZero() {
        assertConfigError(listener() + "clusters:\n  - name: backend\n    endpoints: [a.b:1, a.b:0]\n",
                          line: 9, column: 24, path: "clusters[0].endpoints[1]",
                          "invalid address \"a.b:0\": port must be from 1 to 65535")
    }

    func testAddressWithoutPort() {
        assertConfigError("listeners:\n  - name: web\n    address: 127.0.0.1\n",
                          line: 3, column: 14, path: "listeners[0].address",
                          "invalid address \"127.0.0.1\": expected host:port")
    }

    func testPortOutOfRange() {
        assertConfigError("listeners:\n  - name: web\n    address: 1.2.3.4:70000\n",
                          line: 3, column: 14, path: "listeners[0].address",
                          "invalid address \"1.2.3.4:70000\": port must be a number from 0 to 65535")
    }

    func testBadHosts() {
        assertConfigError("listeners:\n  - name: web\n    address: 300.1.1.1:80\n",
                          line: 3, column: 14, path: "listeners[0].address",
                          "invalid address \"300.1.1.1:80\": \"300.1.1.1\" is not a valid IPv4 address")
        assertConfigError("listeners:\n  - name: web\n    address: ::1:80\n",
                          line: 3, column: 14, path: "listeners[0].address",
                          "invalid address \"::1:80\": write IPv6 addresses in brackets, e.g. \"[::1]:8080\"")
        assertConfigError("listeners:\n  - name: web\n    address: bad_host!:80\n",
                          line: 3, column: 14, path: "listeners[0].address",
                          "invalid address \"bad_host!:80\": \"bad_host!\" is not a valid host name")
    }

    func testUnquotedIPv6AddressIsAYAMLError() {
        assertConfigError("listeners:\n  - name: web\n    address: [::1]:8080\n",
                          line: 3, column: 19, path: "", "unexpected characters after the value")
    }

    func testDuplicateListenerNames() {
        assertConfigError("""
            listeners:
              - name: web
                address: 127.0.0.1:8080
                routes: [{prefix: /, cluster: backend}]
              - name: web
                address: 127.0.0.1:8081
                routes: [{prefix: /, cluster: backend}]
            """ + "\n" + Self.clusters, line: 5, column: 11, path: "listeners[1].name",
            "duplicate listener name \"web\" (also used by listeners[0])")
    }

    func testDuplicateListenerAddressesButPortZeroIsFine() {
        let twoListeners = { (port: Int) in """
            listeners:
              - name: a
                address: 127.0.0.1:\(port)
                routes: [{prefix: /, cluster: backend}]
              - name: b
                address: 127.0.0.1:\(port)
                routes: [{prefix: /, cluster: backend}]
            """ + "\n" + Self.clusters
        }
        assertConfigError(twoListeners(8080), line: 6, column: 14, path: "listeners[1].address",
                          "duplicate listener address 127.0.0.1:8080 (also used by listeners[0])")
        XCTAssertEqual(parseConfig(twoListeners(0))?.listeners.count, 2)
    }

    func testDuplicateClusterNames() {
        assertConfigError(listener() + Self.clusters + "\n  - name: backend\n    endpoints: [127.0.0.1:50052]\n",
                          line: 10, column: 11, path: "clusters[1].name",
                          "duplicate cluster name \"backend\" (also used by clusters[0])")
    }

    func testAdminAddressCollidesWithListener() {
        assertConfigError(listener() + Self.clusters + "\nadmin:\n  address: 127.0.0.1:8080\n",
                          line: 11, column: 12, path: "admin.address",
                          "admin address 127.0.0.1:8080 is already used by listeners[0]")
    }

    func testHealthCheckThresholds() {
        assertConfigError(listener() + Self.clusters + "\n    health_check: {unhealthy_threshold: 0}\n",
                          line: 10, column: 41, path: "clusters[0].health_check.unhealthy_threshold",
                          "must be between 1 and 1000000")
    }

    func testEjectionTimes() {
        assertConfigError(listener() + Self.clusters + "\n    outlier_detection: {base_ejection_time: 1m, max_ejection_time: 30s}\n",
                          line: 10, column: 68, path: "clusters[0].outlier_detection.max_ejection_time",
                          "must be at least base_ejection_time (1m)")
    }

    // MARK: Value types

    func testWorkersRange() {
        let base = listener() + Self.clusters
        assertConfigError(base + "\nworkers: 0\n", line: 10, column: 10, path: "workers", "must be between 1 and 1024")
        assertConfigError(base + "\nworkers: 2000\n", line: 10, column: 10, path: "workers", "must be between 1 and 1024")
        assertConfigError(base + "\nworkers: many\n", line: 10, column: 10, path: "workers",
                          "expected \"auto\" or a number of workers from 1 to 1024, got \"many\"")
    }

    func testBadDuration() {
        assertConfigError(listener(routes: "      - prefix: /\n        cluster: backend\n        timeout: 30") + Self.clusters,
                          line: 7, column: 18, path: "listeners[0].routes[0].timeout",
                          "invalid duration \"30\" (expected a number with a unit: 250ms, 30s, 1.5s, 5m, 1h)")
        assertConfigError(listener(routes: "      - prefix: /\n        cluster: backend\n        timeout: -1s") + Self.clusters,
                          line: 7, column: 18, path: "listeners[0].routes[0].timeout", "must not be negative")
    }

    func testZeroDurationWhereNonsensical() {
        assertConfigError(listener() + Self.clusters + "\n    connect_timeout: 0s\n",
                          line: 10, column: 22, path: "clusters[0].connect_timeout", "must be greater than 0")
    }

    func testBadSizes() {
        let base = listener() + Self.clusters
        assertConfigError(base + "\nlimits:\n  max_message_size: 4XB\n", line: 11, column: 21, path: "limits.max_message_size",
                          "invalid size \"4XB\" (expected a byte count or a size such as 64KiB, 4MiB, 1GiB)")
        assertConfigError(base + "\nlimits:\n  write_buffer_limit: 0\n", line: 11, column: 23, path: "limits.write_buffer_limit",
                          "must be between 1 and 1GiB")
        assertConfigError(base + "\nlimits:\n  max_message_size: 8GiB\n", line: 11, column: 21, path: "limits.max_message_size",
                          "must be between 1 and 1GiB")
        assertConfigError(base + "\nwebsocket:\n  max_frame_size: -5\n", line: 11, column: 19, path: "websocket.max_frame_size",
                          "must not be negative")
    }

    func testNegativeCount() {
        assertConfigError(listener() + Self.clusters + "\n    max_pending: -1\n",
                          line: 10, column: 18, path: "clusters[0].max_pending", "must be between 0 and 1000000")
    }

    func testWrongScalarTypes() {
        let base = listener() + Self.clusters
        assertConfigError(base + "\nwebsocket:\n  require_origin: yes\n", line: 11, column: 19, path: "websocket.require_origin",
                          "expected true or false, got \"yes\"")
        assertConfigError(base + "\nlimits: 5\n", line: 10, column: 9, path: "limits", "expected a mapping, got a string")
        assertConfigError(base + "\nlimits:\n  max_headers_count: [1]\n", line: 11, column: 22, path: "limits.max_headers_count",
                          "expected an integer, got a sequence")
    }

    func testBadChoices() {
        let base = listener() + Self.clusters
        assertConfigError(base + "\nlog_level: verbose\n", line: 10, column: 12, path: "log_level",
                          "invalid log level \"verbose\" (expected trace, debug, info, warn or error)")
        assertConfigError(base + "\nlog_level: warning\n", line: 10, column: 12, path: "log_level",
                          "invalid log level \"warning\" (expected trace, debug, info, warn or error); did you mean \"warn\"?")
        assertConfigError(base + "\n    load_balancing: random\n", line: 10, column: 21, path: "clusters[0].load_balancing",
                          "invalid load balancing policy \"random\" (expected round_robin or least_request)")
    }

    // MARK: CORS

    func testCORSOriginWithPath() {
        assertConfigError(listener().replacing("    routes:", with: "    cors: {allow_origins: [\"https://*.example.com/\"]}\n    routes:") + Self.clusters,
                          line: 4, column: 28, path: "listeners[0].cors.allow_origins[0]",
                          "invalid origin \"https://*.example.com/\": an origin has no path (remove everything from the first '/' after the host)")
    }

    func testCORSWildcardInTheMiddle() {
        assertConfigError(listener().replacing("    routes:", with: "    cors:\n      allow_origins:\n        - https://api.*.com\n    routes:") + Self.clusters,
                          line: 6, column: 11, path: "listeners[0].cors.allow_origins[0]",
                          "invalid origin \"https://api.*.com\": '*' is only allowed as the whole first host label, as in \"https://*.example.com\"")
    }

    func testCORSOriginWithoutScheme() {
        assertConfigError(listener().replacing("    routes:", with: "    cors: {allow_origins: [example.com]}\n    routes:") + Self.clusters,
                          line: 4, column: 28, path: "listeners[0].cors.allow_origins[0]",
                          "invalid origin \"example.com\": expected \"*\", an origin such as \"https://app.example.com\" or a pattern such as \"https://*.example.com\"")
    }

    func testCORSNeedsAllowOrigins() {
        assertConfigError(listener().replacing("    routes:", with: "    cors:\n      max_age: 1h\n    routes:") + Self.clusters,
                          line: 5, column: 7, path: "listeners[0].cors.allow_origins",
                          "missing required key \"allow_origins\"")
    }

    // MARK: Environment and syntax

    func testUnsetEnvironmentVariable() {
        assertConfigError(listener() + "clusters:\n  - name: backend\n    endpoints: [\"${BACKEND_HOST}:50051\"]\n",
                          line: 9, column: 17, path: "",
                          "environment variable \"BACKEND_HOST\" is not set (use ${BACKEND_HOST:-default} for a default)")
        XCTAssertEqual(
            parseConfig(listener() + "clusters:\n  - name: backend\n    endpoints: [\"${BACKEND_HOST}:50051\"]\n",
                        environment: ["BACKEND_HOST": "grpc.internal"])?.clusters[0].endpoints[0].host,
            "grpc.internal")
    }

    func testSyntaxErrorsHaveNoKeyPath() {
        assertConfigError("listeners:\n\t- name: web\n", line: 2, column: 1, path: "", "tab characters are not allowed in indentation")
        assertConfigError("listeners:\n  - name: web\n    name: other\n", line: 3, column: 5, path: "", "duplicate key \"name\"")
    }
}
