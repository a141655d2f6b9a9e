import XCTest
@testable import HTTP1Codec

/// The parser's byte classes are bit masks; check them against the RFC 9110 definitions byte by byte.
final class ByteClassTests: XCTestCase {
    func testTokenCharactersMatchRFC9110() {
        let tchar = Set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)
        for b in 0...255 {
            XCTAssertEqual(ASCII.isTokenChar(UInt8(b)), tchar.contains(UInt8(b)), "byte \(b)")
        }
    }

    func testFieldValueCharacters() {
        for b in 0...255 {
            let expected = b == 0x09 || (0x20...0x7E).contains(b) || b >= 0x80
            XCTAssertEqual(ASCII.isFieldValueChar(UInt8(b)), expected, "byte \(b)")
        }
    }

    func testHexDigits() {
        let digits = Array("0123456789abcdef".utf8)
        for b in 0...255 {
            let lower = UInt8(b) >= 0x41 && UInt8(b) <= 0x5A ? UInt8(b) | 0x20 : UInt8(b)
            XCTAssertEqual(ASCII.hexValue(UInt8(b)), digits.firstIndex(of: lower), "byte \(b)")
        }
    }
}
