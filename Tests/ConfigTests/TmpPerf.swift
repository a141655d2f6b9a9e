import XCTest
import YAML
import Config
final class TmpPerf: XCTestCase {
    func testSplit() throws {
        let text = ConfigPerformanceTests.largeConfig(routes: 10_000)
        let clock = ContinuousClock()
        for _ in 0..<3 {
        let a = try clock.measure { _ = try YAMLParser.parse(text) }
        let b = try clock.measure { _ = try ConfigLoader.parse(text, file: "x") }
        print("SPLIT yaml \(a) total \(b) bytes \(text.utf8.count)")
        }
    }
}
