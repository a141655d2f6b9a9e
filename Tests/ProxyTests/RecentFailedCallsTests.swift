import XCTest
@testable import Proxy

/// The dashboard's ring of recent non-OK calls: OK calls never enter, the oldest is overwritten at the cap, the
/// snapshot is oldest first, and a capacity of 0 keeps nothing.
final class RecentFailedCallsTests: XCTestCase {
    func summary(_ id: String, status: Int) -> CallSummary {
        var s = CallSummary()
        s.requestID = id
        s.grpcStatus = status
        return s
    }

    func testKeepsOnlyNonOKCallsUpToTheCapacity() {
        let ring = RecentFailedCalls(capacity: 3)
        ring.record(summary("ok", status: 0))
        XCTAssertTrue(ring.snapshot().isEmpty)
        for i in 1...2 { ring.record(summary("f\(i)", status: 14)) }
        XCTAssertEqual(ring.snapshot().map(\.requestID), ["f1", "f2"])
        for i in 3...7 { ring.record(summary("f\(i)", status: 2)) }
        XCTAssertEqual(ring.snapshot().map(\.requestID), ["f5", "f6", "f7"])
        ring.record(summary("ok", status: 0))
        XCTAssertEqual(ring.snapshot().map(\.requestID), ["f5", "f6", "f7"])
    }

    func testCapacityZeroKeepsNothing() {
        let ring = RecentFailedCalls(capacity: 0)
        ring.record(summary("f", status: 13))
        XCTAssertTrue(ring.snapshot().isEmpty)
    }
}
