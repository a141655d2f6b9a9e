import XCTest
import Config

/// A 10,000-route file must parse and validate in well under a second, so neither the YAML
/// parser nor the unreachable-route check may be quadratic.
final class ConfigPerformanceTests: XCTestCase {
    static func largeConfig(routes: Int, extra: String = "") -> String {
        var text = "listeners:\n  - name: big\n    address: 127.0.0.1:0\n    routes:\n"
        text.reserveCapacity(routes * 120)
        for index in 0..<routes {
            switch index % 4 {
            case 0: text += "      - method: pkg\(index).Service/Call\n"
            case 1: text += "      - service: pkg\(index).Service\n        headers: {x-tenant: \"t\(index)\"}\n"
            case 2: text += "      - prefix: /pkg\(index).\n        timeout: 5s\n"
            default: text += "      - method: 'pkg\(index).Other/Run'  # comment\n        max_request_bytes: 1MiB\n"
            }
            text += "        cluster: c\(index % 10)\n"
        }
        text += extra
        text += "clusters:\n"
        for index in 0..<10 {
            text += "  - {name: c\(index), endpoints: [\"10.0.0.\(index):50051\"], connect_timeout: 1s}\n"
        }
        return text
    }

    func testTenThousandRoutesUnderOneSecond() throws {
        let text = Self.largeConfig(routes: 10_000)
        let clock = ContinuousClock()
        var config: ProxyConfig?
        let elapsed = try clock.measure {
            config = try ConfigLoader.parse(text, file: "big.yaml")
        }
        XCTAssertEqual(config?.listeners[0].routes.count, 10_000)
        XCTAssertEqual(config?.listeners[0].routes[9_998].match, .prefix("/pkg9998."))
        XCTAssertLessThan(elapsed, .seconds(1), "took \(elapsed)")
    }

    func testShadowingIsFoundInLargeFiles() {
        let extra = "      - method: pkg8.Service/Call\n        cluster: c1\n"
        assertConfigError(Self.largeConfig(routes: 10_000, extra: extra),
                          line: 27_505, column: 9, path: "listeners[0].routes[10000]",
                          "unreachable route: routes[8] (method \"pkg8.Service/Call\") already matches every request this route would match")
    }
}
