import GRPCWebCodec
import XCTest

final class GRPCTimeoutTests: XCTestCase {
    func testParseTable() {
        let table: [(String, Int64)] = [
            ("1H", 3_600_000_000_000), ("2M", 120_000_000_000), ("3S", 3_000_000_000), ("100m", 100_000_000),
            ("7u", 7_000), ("9n", 9), ("0n", 0), ("99999999S", 99_999_999_000_000_000), ("00000001m", 1_000_000),
            ("99999999n", 99_999_999), ("2562047H", 2_562_047 * 3_600_000_000_000),
        ]
        for (s, ns) in table { XCTAssertEqual(GRPCTimeout.parse(s), ns, s) }
    }

    func testParseSaturates() {
        XCTAssertEqual(GRPCTimeout.parse("99999999H"), Int64.max)
        XCTAssertEqual(GRPCTimeout.parse("2562048H"), Int64.max)
        XCTAssertEqual(GRPCTimeout.parse("99999999M"), 99_999_999 * 60_000_000_000)
    }

    func testParseRejectsMalformed() {
        for s in ["", "m", "5", "123456789m", "000000001S", "10x", "10h", "10s", "-5m", "+5m", " 5m", "5m ", "5mm",
                  "1.5S", "5 m", "５m", "0x10S"] {
            XCTAssertNil(GRPCTimeout.parse(s), s)
        }
    }

    func testEncodeTable() {
        let table: [(Int64, String)] = [
            (-5, "1n"), (0, "1n"), (1, "1n"), (999, "999n"), (99_999_999, "99999999n"),
            (100_000_000, "100000u"), (100_000_999, "100000u"), (1_000_000_000, "1000000u"),
            (99_999_999_999, "99999999u"), (100_000_000_000, "100000m"), (99_999_999_999_999, "99999999m"),
            (100_000_000_000_000, "100000S"), (99_999_999_000_000_000, "99999999S"),
            (100_000_000_000_000_000, "1666666M"), (Int64.max, "2562047H"),
        ]
        for (ns, s) in table { XCTAssertEqual(GRPCTimeout.encode(nanoseconds: ns), s, "\(ns)") }
    }

    func testEncodeNeverExtendsAndStaysWithinEightDigits() {
        var rng = SeededRNG(seed: 8)
        for _ in 0..<2000 {
            let ns = Int64.random(in: 1...Int64.max, using: &rng) >> Int64.random(in: 0...62, using: &rng)
            let s = GRPCTimeout.encode(nanoseconds: max(ns, 1))
            XCTAssertLessThanOrEqual(s.utf8.count, 9, s)
            guard let back = GRPCTimeout.parse(s) else { return XCTFail("unparseable \(s)") }
            XCTAssertLessThanOrEqual(back, max(ns, 1), s)
            XCTAssertGreaterThanOrEqual(Double(back), Double(max(ns, 1)) * (1 - 1e-5), s)
        }
    }
}
