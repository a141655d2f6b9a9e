import XCTest
@testable import Config

final class ConfigValueTests: XCTestCase {
    func testDurations() throws {
        let cases: [(String, Duration)] = [
            ("250ms", .milliseconds(250)), ("30s", .seconds(30)), ("5m", .seconds(300)), ("1h", .seconds(3600)),
            ("1.5s", .milliseconds(1500)), ("0.3s", .milliseconds(300)), ("0s", .zero), ("0", .zero),
            ("100us", .microseconds(100)), ("10ns", .nanoseconds(10)), ("1m30s", .seconds(90)),
            ("1h0.5m", .seconds(3630)), ("0.000000001s", .nanoseconds(1)),
        ]
        for (text, expected) in cases {
            XCTAssertEqual(try DurationSyntax.parse(text), expected, text)
        }
        for bad in ["", "5", "s", "1.s", ".5s", "1x", "1 s", "1sm", "ms"] {
            XCTAssertThrowsError(try DurationSyntax.parse(bad), bad) { XCTAssertEqual($0 as? DurationSyntax.Failure, .invalid, bad) }
        }
        XCTAssertThrowsError(try DurationSyntax.parse("-1s")) { XCTAssertEqual($0 as? DurationSyntax.Failure, .negative) }
        XCTAssertThrowsError(try DurationSyntax.parse("9999999999h")) { XCTAssertEqual($0 as? DurationSyntax.Failure, .tooLarge) }
    }

    func testDurationFormat() {
        XCTAssertEqual(DurationSyntax.format(.seconds(3600)), "1h")
        XCTAssertEqual(DurationSyntax.format(.seconds(90)), "90s")
        XCTAssertEqual(DurationSyntax.format(.milliseconds(250)), "250ms")
        XCTAssertEqual(DurationSyntax.format(.zero), "0s")
        XCTAssertEqual(DurationSyntax.format(.nanoseconds(7)), "7ns")
    }

    func testSizes() throws {
        let cases: [(String, Int)] = [
            ("64KiB", 65536), ("4MiB", 4 << 20), ("1GiB", 1 << 30), ("512KB", 512_000), ("2MB", 2_000_000),
            ("100", 100), ("0", 0), ("1_000", 1000), ("64 KiB", 65536), ("16mib", 16 << 20), ("7B", 7),
        ]
        for (text, expected) in cases {
            XCTAssertEqual(try ByteSizeSyntax.parse(text), expected, text)
        }
        for bad in ["", "KiB", "1.5MiB", "4K", "4 XB", "_1", "1__0"] {
            XCTAssertThrowsError(try ByteSizeSyntax.parse(bad), bad)
        }
        XCTAssertThrowsError(try ByteSizeSyntax.parse("-1")) { XCTAssertEqual($0 as? ByteSizeSyntax.Failure, .negative) }
        XCTAssertThrowsError(try ByteSizeSyntax.parse("99999999999TiB")) { XCTAssertEqual($0 as? ByteSizeSyntax.Failure, .tooLarge) }
    }

    func testAddresses() throws {
        let cases: [(String, String, Int, String)] = [
            ("127.0.0.1:8080", "127.0.0.1", 8080, "127.0.0.1:8080"),
            ("0.0.0.0:80", "0.0.0.0", 80, "0.0.0.0:80"),
            ("[::1]:8080", "::1", 8080, "[::1]:8080"),
            ("[fe80::1%eth0]:9", "fe80::1%eth0", 9, "[fe80::1%eth0]:9"),
            ("localhost:50051", "localhost", 50051, "localhost:50051"),
            ("backend.ns.svc:50051", "backend.ns.svc", 50051, "backend.ns.svc:50051"),
            ("my_host:0", "my_host", 0, "my_host:0"),
            ("h:65535", "h", 65535, "h:65535"),
        ]
        for (text, host, port, description) in cases {
            let address = try SocketAddressSpec(parsing: text)
            XCTAssertEqual(address.host, host, text)
            XCTAssertEqual(address.port, port, text)
            XCTAssertEqual(address.description, description, text)
        }
        let bad: [(String, String)] = [
            ("localhost", "expected host:port"),
            (":80", "missing host (use 0.0.0.0 to listen on every interface)"),
            ("h:", "port must be a number from 0 to 65535"),
            ("h:65536", "port must be a number from 0 to 65535"),
            ("h:8o", "port must be a number from 0 to 65535"),
            ("[::1]8080", "expected ':port' after ']'"),
            ("[::1:8080", "missing ']' after the IPv6 address"),
            ("[abc]:1", "\"abc\" is not an IPv6 address"),
            ("1.2.3:80", "\"1.2.3\" is not a valid IPv4 address"),
            ("-bad.host:80", "\"-bad.host\" is not a valid host name"),
            ("a..b:80", "\"a..b\" is not a valid host name"),
        ]
        for (text, reason) in bad {
            XCTAssertThrowsError(try SocketAddressSpec(parsing: text), text) { error in
                XCTAssertEqual((error as? SocketAddressSpec.ParseError)?.message, "invalid address \"\(text)\": \(reason)")
            }
        }
    }

    func testCORSAllowsOrigin() {
        let policy = CORSPolicy(allowOrigins: ["https://app.example.com", "https://*.example.org", "http://localhost:3000"])
        XCTAssertTrue(policy.allows(origin: "https://app.example.com"))
        XCTAssertTrue(policy.allows(origin: "HTTPS://App.Example.COM"), "scheme and host are case-insensitive")
        XCTAssertFalse(policy.allows(origin: "http://app.example.com"), "scheme must match")
        XCTAssertFalse(policy.allows(origin: "https://app.example.com:8443"), "port must match")
        XCTAssertFalse(policy.allows(origin: "https://evil-app.example.com"))
        XCTAssertFalse(policy.allows(origin: "https://app.example.com.evil.net"))
        XCTAssertTrue(policy.allows(origin: "https://a.example.org"))
        XCTAssertTrue(policy.allows(origin: "https://a.b.example.org"), "wildcard covers deeper subdomains")
        XCTAssertTrue(policy.allows(origin: "https://A.EXAMPLE.ORG"))
        XCTAssertFalse(policy.allows(origin: "https://example.org"), "wildcard needs a subdomain")
        XCTAssertFalse(policy.allows(origin: "https://badexample.org"))
        XCTAssertFalse(policy.allows(origin: "https://a.example.org:444"))
        XCTAssertTrue(policy.allows(origin: "http://localhost:3000"))
        XCTAssertFalse(policy.allows(origin: "http://localhost"))
        XCTAssertFalse(policy.allows(origin: "http://localhost:30000"))
        XCTAssertFalse(policy.allows(origin: "null"))
        XCTAssertFalse(policy.allows(origin: ""))
        let any = CORSPolicy(allowOrigins: ["*"])
        XCTAssertTrue(any.allows(origin: "https://anything.test"))
        XCTAssertFalse(any.allows(origin: "null"), "the opaque origin is never covered by \"*\"")
        XCTAssertFalse(any.allows(origin: "not an origin"))
        XCTAssertTrue(CORSPolicy(allowOrigins: ["null"]).allows(origin: "null"), "allowed when listed literally")
        XCTAssertFalse(CORSPolicy().allows(origin: "https://a.b"))
        let ipv6 = CORSPolicy(allowOrigins: ["http://[::1]:8080"])
        XCTAssertTrue(ipv6.allows(origin: "http://[::1]:8080"))
        XCTAssertFalse(ipv6.allows(origin: "http://[::1]:8081"))
    }

    func testOriginPatternValidation() {
        for good in ["*", "https://a.b", "http://localhost:3000", "https://*.example.com", "https://*.example.com:8443", "http://[::1]:80", "app+x://host"] {
            XCTAssertNil(CORSPolicy.problem(withOriginPattern: good), good)
        }
        for bad in ["", "example.com", "https://", "https://a.b/", "https://a.b/path", "https://*", "https://*.", "https://a.*.b", "https://*a.b", "*.example.com", "https://a b", "https://a.b:99999", "https://a.b:", "https://u@a.b"] {
            XCTAssertNotNil(CORSPolicy.problem(withOriginPattern: bad), bad)
        }
    }

    func testKeySuggestions() {
        let keys = ["endpoints", "max_age", "keepalive_interval", "keepalive_timeout", "warn", "name"]
        XCTAssertEqual(KeySuggestion.nearest(to: "endpoint", in: keys), "endpoints")
        XCTAssertEqual(KeySuggestion.nearest(to: "maxAge", in: keys), "max_age")
        XCTAssertEqual(KeySuggestion.nearest(to: "keepalive", in: keys), "keepalive_timeout", "shortest completion")
        XCTAssertEqual(KeySuggestion.nearest(to: "keepalive_timout", in: keys), "keepalive_timeout")
        XCTAssertEqual(KeySuggestion.nearest(to: "warning", in: keys), "warn")
        XCTAssertEqual(KeySuggestion.nearest(to: "nmae", in: keys), nil, "two edits is too far for a 4-letter key")
        XCTAssertNil(KeySuggestion.nearest(to: "colour", in: keys))
    }

    func testLogLevelOrderAndNames() {
        XCTAssertLessThan(LogLevel.trace, .debug)
        XCTAssertLessThan(LogLevel.warn, .error)
        XCTAssertEqual(LogLevel.allCases.map(\.name), ["trace", "debug", "info", "warn", "error"])
        XCTAssertEqual(LogLevel(name: "warn"), .warn)
        XCTAssertNil(LogLevel(name: "WARN"))
    }

    func testLoadBalancingRawValues() {
        XCTAssertEqual(LoadBalancing(rawValue: "least_request"), .leastRequest)
        XCTAssertEqual(LoadBalancing.roundRobin.rawValue, "round_robin")
    }

    func testNullValuesMeanDefault() throws {
        let config = try XCTUnwrap(parseConfig("""
            workers: 3
            log_level:
            limits:
            listeners:
              - name: a
                address: 127.0.0.1:0
                websocket: ~
                routes: [{prefix: /, cluster: c, timeout: null}]
            clusters: [{name: c, endpoints: ['h:1'], health_check: }]
            """))
        XCTAssertEqual(config.workers, 3)
        XCTAssertEqual(config.logLevel, .info)
        XCTAssertTrue(config.listeners[0].websocket)
        XCTAssertEqual(config.listeners[0].routes[0].timeout, .zero)
        XCTAssertNil(config.clusters[0].healthCheck)
    }

    func testQuotedNumbersAndEnvironmentValuesAreTyped() throws {
        let config = try XCTUnwrap(parseConfig("""
            workers: "${WORKERS}"
            drain_timeout: '${DRAIN:-2s}'
            listeners:
              - name: a
                address: 127.0.0.1:${PORT}
                websocket: ${WS:-false}
                routes: [{prefix: /, cluster: c}]
            clusters: [{name: c, endpoints: ['h:1'], health_check: {}}]
            """, environment: ["WORKERS": "7", "PORT": "9000"]))
        XCTAssertEqual(config.workers, 7)
        XCTAssertEqual(config.drainTimeout, .seconds(2))
        XCTAssertEqual(config.listeners[0].address.port, 9000)
        XCTAssertFalse(config.listeners[0].websocket)
        XCTAssertEqual(config.clusters[0].healthCheck?.healthyThreshold, 2, "health_check: {} enables checks with defaults")
    }

    func testCORSRouteOverridesAreFieldByField() throws {
        let config = try XCTUnwrap(parseConfig("""
            listeners:
              - name: a
                address: 127.0.0.1:0
                cors: {allow_origins: ["https://a.test"], allow_headers: [X-Custom], max_age: 10m}
                routes:
                  - service: s.A
                    cluster: c
                    cors: {allow_origins: ["https://b.test"], expose_headers: [X-Trace]}
                  - prefix: /
                    cluster: c
              - name: b
                address: 127.0.0.1:0
                routes:
                  - prefix: /x
                    cluster: c
                    cors: {allow_origins: ["https://c.test"], allow_credentials: true}
                  - prefix: /
                    cluster: c
            clusters: [{name: c, endpoints: ['h:1']}]
            """))
        let first = config.listeners[0].routes[0].cors
        XCTAssertEqual(first?.allowOrigins, ["https://b.test"])
        XCTAssertEqual(first?.allowHeaders, ["x-custom"], "inherited and lower-cased")
        XCTAssertEqual(first?.exposeHeaders, ["x-trace"])
        XCTAssertEqual(first?.maxAge, .seconds(600))
        XCTAssertEqual(config.listeners[0].routes[1].cors?.allowOrigins, ["https://a.test"])
        XCTAssertNil(config.listeners[1].cors)
        XCTAssertEqual(config.listeners[1].routes[0].cors?.allowCredentials, true)
        XCTAssertEqual(config.listeners[1].routes[0].cors?.maxAge, .seconds(86400))
        XCTAssertNil(config.listeners[1].routes[1].cors)
    }
}
