import GRPCWebCodec
import XCTest

final class GRPCMessageEncodingTests: XCTestCase {
    func testNonASCII() {
        XCTAssertEqual(GRPCMessageEncoding.percentEncode("héllo ✓ 100%"), "h%C3%A9llo %E2%9C%93 100%25")
        XCTAssertEqual(GRPCMessageEncoding.percentDecode("h%C3%A9llo %E2%9C%93 100%25"), "héllo ✓ 100%")
    }

    func testLiteralRangeAndEscapes() {
        var printable = ""
        for b in 0x20...0x7E where b != 0x25 { printable.unicodeScalars.append(UnicodeScalar(UInt8(b))) }
        XCTAssertEqual(GRPCMessageEncoding.percentEncode(printable), printable)
        XCTAssertEqual(GRPCMessageEncoding.percentEncode("a\r\nb\t\u{7F}\u{0}"), "a%0D%0Ab%09%7F%00")
        XCTAssertEqual(GRPCMessageEncoding.percentEncode("%"), "%25")
        XCTAssertEqual(GRPCMessageEncoding.percentEncode(""), "")
        XCTAssertEqual(GRPCMessageEncoding.percentEncode("😀"), "%F0%9F%98%80")
    }

    func testDecodeLeavesMalformedSequences() {
        XCTAssertEqual(GRPCMessageEncoding.percentDecode("100%"), "100%")
        XCTAssertEqual(GRPCMessageEncoding.percentDecode("%4"), "%4")
        XCTAssertEqual(GRPCMessageEncoding.percentDecode("%zz%41"), "%zzA")
        XCTAssertEqual(GRPCMessageEncoding.percentDecode("%%41"), "%A")
        XCTAssertEqual(GRPCMessageEncoding.percentDecode("%c3%a9"), "é")
        XCTAssertEqual(GRPCMessageEncoding.percentDecode("plain"), "plain")
        // A decoded byte sequence that is not UTF-8 is replaced, never a crash.
        XCTAssertEqual(GRPCMessageEncoding.percentDecode("a%FFb"), "a\u{FFFD}b")
    }

    func testRoundTripRandomUnicode() {
        var rng = SeededRNG(seed: 31)
        let pool: [UnicodeScalar] = ["a", "%", " ", "\n", "\u{7F}", "é", "✓", "😀", "~", "\u{0}", "Z", "\u{10FFFF}"]
        for _ in 0..<200 {
            var s = ""
            for _ in 0..<Int.random(in: 0...20, using: &rng) { s.unicodeScalars.append(pool.randomElement(using: &rng)!) }
            let encoded = GRPCMessageEncoding.percentEncode(s)
            XCTAssertTrue(encoded.utf8.allSatisfy { $0 >= 0x20 && $0 <= 0x7E }, encoded)
            XCTAssertEqual(GRPCMessageEncoding.percentDecode(encoded), s)
        }
    }
}
