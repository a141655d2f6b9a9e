import Config
import XCTest

final class AccessLogConfigTests: XCTestCase {
    private let base = """
    listeners:
      - name: web
        address: 127.0.0.1:0
        routes:
          - service: pkg.Svc
            name: svc
            cluster: b
          - prefix: /
            cluster: b
    clusters:
      - name: b
        endpoints: [127.0.0.1:1]

    """

    private func parse(_ extra: String) throws(ConfigError) -> ProxyConfig {
        try ConfigLoader.parse(base + extra, file: "/etc/proxy/p.yaml")
    }

    func testAbsentMeansOffAndRoutesGetNames() throws {
        let config = try parse("")
        XCTAssertNil(config.accessLog)
        XCTAssertEqual(config.listeners[0].routes.map(\.name), ["svc", "prefix:/"])
        XCTAssertEqual(RouteMatchKind.method("pkg.Svc/M").defaultName, "method:pkg.Svc/M")
        XCTAssertEqual(RouteMatchKind.service("pkg.Svc").defaultName, "service:pkg.Svc")
    }

    func testDefaultsAndFileRelativeToTheConfig() throws {
        XCTAssertEqual(try parse("access_log: {}\n").accessLog, AccessLogConfig())
        let log = try XCTUnwrap(try parse("access_log:\n  path: logs/access.log\n  sample: 0.25\n  only_errors: true\n").accessLog)
        XCTAssertEqual(log.destination, .file("/etc/proxy/logs/access.log"))
        XCTAssertEqual(log.sample, 0.25)
        XCTAssertTrue(log.onlyErrors)
        XCTAssertEqual(try parse("access_log: {path: stderr}\n").accessLog?.destination, .stderr)
    }

    func testFormatString() throws {
        let log = try XCTUnwrap(try parse("access_log:\n  format: \"%start_time% 100%% %GRPC_STATUS%\"\n").accessLog)
        XCTAssertEqual(log.format, .pieces([.field(.startTime), .literal(" 100% "), .field(.grpcStatus)]))
    }

    func testErrorsAreLocated() {
        let cases: [(String, String)] = [
            ("access_log:\n  format: \"%route% %stauts%\"\n", "p.yaml:14:11: access_log.format: unknown access log field %stauts%"),
            ("access_log:\n  format: \"%route\"\n", "access_log.format: unclosed \"%\""),
            ("access_log:\n  sample: 1.5\n", "access_log.sample: expected a number from 0 to 1"),
            ("access_log:\n  paht: x\n", "access_log"),
        ]
        for (extra, expected) in cases {
            XCTAssertThrowsError(try parse(extra), extra) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(error) does not contain \(expected)")
            }
        }
    }
}
