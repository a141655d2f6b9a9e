import Config
@testable import Proxy
import XCTest

/// The overload stages (OverloadConfig) as pressure rises, from either budget.
final class OverloadMonitorTests: XCTestCase {
    private final class Source: @unchecked Sendable { var buffered = 0; var rss = 0 }

    private func monitor(_ config: OverloadConfig, _ source: Source) -> OverloadMonitor {
        OverloadMonitor(config: config, bufferedBytes: { source.buffered }, residentBytes: { source.rss })
    }

    func testBufferedBytesBudgetStages() {
        let source = Source()
        let m = monitor(OverloadConfig(maxBufferedBytes: 1000, maxRSS: 0), source)
        let expected: [(Int, OverloadMonitor.Level)] = [
            (0, .normal), (799, .normal), (800, .stopAccepting), (899, .stopAccepting), (900, .shedCalls),
            (999, .shedCalls), (1000, .resetLargest), (50_000, .resetLargest), (10, .normal),
        ]
        for (bytes, level) in expected {
            source.buffered = bytes
            XCTAssertEqual(m.level, level, "\(bytes) of 1000 buffered")
        }
    }

    func testResidentMemoryIsSampledNotReadLive() {
        let source = Source()
        source.rss = 950
        let m = monitor(OverloadConfig(maxBufferedBytes: 0, maxRSS: 1000), source)
        XCTAssertEqual(m.level, .shedCalls, "sampled at creation")
        source.rss = 10
        XCTAssertEqual(m.level, .shedCalls, "unchanged until the next sample")
        m.sample()
        XCTAssertEqual(m.level, .normal)
        source.rss = 2000
        source.buffered = 1 << 40
        m.sample()
        XCTAssertEqual(m.level, .resetLargest)
    }

    func testDisabledBudgetsNeverOverload() {
        let source = Source()
        source.buffered = Int.max / 2
        source.rss = Int.max / 2
        let m = monitor(OverloadConfig(maxBufferedBytes: 0, maxRSS: 0), source)
        m.sample()
        XCTAssertEqual(m.level, .normal)
    }
}
