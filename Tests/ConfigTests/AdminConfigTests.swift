import XCTest
import Config

/// Issue 12 item 5, config half: the admin section's defaults (loopback), the failed-calls ring's cap, and the
/// redacted YAML that `GET /config` serves.
final class AdminConfigTests: XCTestCase {
    static let base = """
        listeners:
          - name: web
            address: 127.0.0.1:8080
            routes:
              - prefix: /
                cluster: backend
        clusters:
          - name: backend
            endpoints: [127.0.0.1:50051]

        """

    func testAdminWithoutAddressListensOnLoopback() throws {
        let parsed = try XCTUnwrap(parseConfig(Self.base + "admin: {}\n"))
        XCTAssertEqual(parsed.admin?.address.description, "127.0.0.1:9901")
        XCTAssertEqual(parsed.admin?.recentFailedCalls, 50)
        XCTAssertNil(try XCTUnwrap(parseConfig(Self.base)).admin, "no admin section, no admin listener")
    }

    func testRecentFailedCallsCapIsDecodedAndBounded() throws {
        let set = try XCTUnwrap(parseConfig(Self.base + "admin:\n  recent_failed_calls: 0\n"))
        XCTAssertEqual(set.admin?.recentFailedCalls, 0)
        assertConfigError(Self.base + "admin:\n  recent_failed_calls: 10001\n", line: 11, column: 24,
                          path: "admin.recent_failed_calls", "must be between 0 and 10000")
        assertConfigError(Self.base + "admin:\n  recent_failed_call: 5\n", line: 11, column: 3, path: "admin.recent_failed_call",
                          "unknown key \"recent_failed_call\"; did you mean \"recent_failed_calls\"?")
    }

    func testDefaultAdminAddressClashingWithAListenerPointsAtTheSection() {
        let text = Self.base.replacingOccurrences(of: "127.0.0.1:8080", with: "127.0.0.1:9901") + "admin: {}\n"
        assertConfigError(text, line: 10, column: 8, path: "admin",
                          "admin address 127.0.0.1:9901 is already used by listeners[0]")
    }

    // MARK: GET /config

    func testRedactedYAMLHidesKeysAndSecretsAndKeepsTheRest() throws {
        let text = """
            workers: 2
            listeners:
              - name: "web: tls"
                address: 127.0.0.1:8443
                tls: {cert: /etc/c.pem, key: /etc/k.pem, certificates: [{cert: /etc/c2.pem, key: /etc/k2.pem}]}
                routes:
                  - prefix: /
                    cluster: backend
                    headers: {x-api-key: hunter2, x-tenant: 'a # b'}
            clusters:
              - name: backend
                endpoints: ["127.0.0.1:${PORT}"]
                retries: 0
            admin:
              address: 127.0.0.1:9901

            """
        let yaml = try XCTUnwrap(parseConfig(text, environment: ["PORT": "50051"])).redactedYAML
        XCTAssertEqual(yaml, """
            workers: 2
            listeners:
              - name: "web: tls"
                address: 127.0.0.1:8443
                tls:
                  cert: /etc/c.pem
                  key: "<redacted>"
                  certificates:
                    - cert: /etc/c2.pem
                      key: "<redacted>"
                routes:
                  - prefix: /
                    cluster: backend
                    headers:
                      x-api-key: "<redacted>"
                      x-tenant: "a # b"
            clusters:
              - name: backend
                endpoints:
                  - "127.0.0.1:50051"
                retries: 0
            admin:
              address: 127.0.0.1:9901

            """)
        XCTAssertFalse(yaml.contains("k.pem") || yaml.contains("hunter2"))
        // What is served parses back as the same config (secrets aside, which then fail as files do).
        XCTAssertNotNil(parseConfig(yaml.replacingOccurrences(of: "\"<redacted>\"", with: "/etc/k.pem")))
    }
}
