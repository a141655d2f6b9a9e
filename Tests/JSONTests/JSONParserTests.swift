@testable import JSON
import XCTest

final class JSONParserTests: XCTestCase {
    func parse(_ text: String, limits: JSONLimits = JSONLimits()) throws -> JSONValue {
        try JSONParser.parse(Array(text.utf8), limits: limits)
    }

    func assertRefused(_ bytes: [UInt8], containing text: String? = nil, limits: JSONLimits = JSONLimits(),
                       file: StaticString = #filePath, line: UInt = #line) {
        do {
            let value = try JSONParser.parse(bytes, limits: limits)
            XCTFail("accepted \(String(decoding: bytes, as: UTF8.self).debugDescription) as \(value)", file: file, line: line)
        } catch {
            if let text { XCTAssertTrue(error.message.contains(text), "\"\(error.message)\" lacks \"\(text)\"", file: file, line: line) }
        }
    }

    func assertRefused(_ text: String, containing message: String? = nil, file: StaticString = #filePath, line: UInt = #line) {
        assertRefused(Array(text.utf8), containing: message, file: file, line: line)
    }

    func testScalarsAndStructures() throws {
        XCTAssertEqual(try parse(" null "), .null)
        XCTAssertEqual(try parse("true"), .bool(true))
        XCTAssertEqual(try parse("\t\r\nfalse"), .bool(false))
        XCTAssertEqual(try parse("[]"), .array([]))
        XCTAssertEqual(try parse("{}"), .object([]))
        let value = try parse(#"{"a": [1, "x", {"b": null}], "c": true}"#)
        XCTAssertEqual(value["c"], .bool(true))
        guard case .array(let items)? = value["a"] else { return XCTFail("\(value)") }
        XCTAssertEqual(items.count, 3)
        XCTAssertEqual(items[2]["b"], .null)
        guard case .object(let members) = value else { return XCTFail() }
        XCTAssertEqual(members.map(\.0), ["a", "c"], "member order is kept")
    }

    func testNumbersKeepTheirTextAndValue() throws {
        let cases: [(String, Double)] = [("0", 0), ("-0", 0), ("1700000000", 1_700_000_000), ("1.5", 1.5),
                                         ("-2.25e2", -225), ("1E3", 1000), ("1e-2", 0.01), ("12345678901234567", 12345678901234567)]
        for (text, value) in cases {
            guard case .number(let number) = try parse(text) else { return XCTFail(text) }
            XCTAssertEqual(number.text, text)
            XCTAssertEqual(number.value, value, text)
        }
        XCTAssertEqual(try parse("1.7e9").numberValue?.integer, 1_700_000_000)
        XCTAssertNil(try parse("1.5").numberValue?.integer)
        for bad in ["01", "+1", "1.", ".5", "1e", "1e+", "-", "NaN", "Infinity", "0x10", "1.0.0", "--1", "1e999"] {
            assertRefused(bad)
        }
    }

    func testStringEscapesAndUnicode() throws {
        XCTAssertEqual(try parse(#""a\"b\\c\/d\b\f\n\r\t""#), .string("a\"b\\c/d\u{8}\u{c}\n\r\t"))
        XCTAssertEqual(try parse(#""\u00e9\u4e2D""#), .string("é中"))
        XCTAssertEqual(try parse(#""\ud83d\ude00""#), .string("😀"), "a surrogate pair is one scalar")
        XCTAssertEqual(try parse("\"héllo 😀\""), .string("héllo 😀"), "raw UTF-8 passes through")
        XCTAssertEqual(try parse(#""\u0000""#), .string("\u{0}"))
        assertRefused(#""\ud83d""#, containing: "unpaired surrogate")
        assertRefused(#""\ude00""#, containing: "unpaired surrogate")
        assertRefused(#""\ud83d\u0041""#, containing: "unpaired surrogate")
        assertRefused(#""\ud83dx""#, containing: "unpaired surrogate")
        assertRefused(#""\u12G4""#, containing: "hex digit")
        assertRefused(#""\u12""#)
        assertRefused(#""\x""#, containing: "invalid escape")
        assertRefused("\"a\nb\"", containing: "control character")
        assertRefused([0x22, 0xC3, 0x28, 0x22], containing: "UTF-8")
        assertRefused([0x22, 0xED, 0xA0, 0x80, 0x22], containing: "UTF-8")  // an encoded surrogate
        assertRefused([0x22, 0xF8, 0x88, 0x80, 0x80, 0x80, 0x22], containing: "UTF-8")
    }

    func testEveryTruncationOfAValidDocumentIsRefused() throws {
        let text = #"{"alg":"RS256","kid":"k1","n":[1,2.5e3,-0,true,false,null],"s":"\u00e9\ud83d\ude00"}"#
        XCTAssertNoThrow(try parse(text))
        let bytes = Array(text.utf8)
        for length in 0..<bytes.count {
            assertRefused(Array(bytes[..<length]))
        }
    }

    func testStructuralMistakes() {
        for bad in ["", " ", "[1,]", "[,1]", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "{\"a\":1 \"b\":2}", "[1 2]", "]",
                    "{\"a\":1}}", "[1] x", "tru", "nul", "True", "'a'", "{\"a\"}", "[\"a\":1]"] {
            assertRefused(bad)
        }
        assertRefused(#"{"a":1,"a":2}"#, containing: "appears twice")
    }

    func testLimits() throws {
        let deep = String(repeating: "[", count: 5) + String(repeating: "]", count: 5)
        XCTAssertNoThrow(try parse(deep, limits: JSONLimits(maxDepth: 5)))
        assertRefused(Array(deep.utf8), containing: "nested deeper than 4", limits: JSONLimits(maxDepth: 4))
        // Far deeper than any stack would allow without the limit.
        let hostile = String(repeating: "[", count: 100_000)
        assertRefused(Array(hostile.utf8), containing: "nested deeper", limits: JSONLimits())
        let objects = String(repeating: "{\"a\":", count: 40) + "1" + String(repeating: "}", count: 40)
        assertRefused(Array(objects.utf8), containing: "nested deeper than 32")
        assertRefused(Array("\"abcdefghij\"".utf8), containing: "larger than 8 bytes", limits: JSONLimits(maxBytes: 8))
        XCTAssertNoThrow(try JSONParser.parse(Array("\"abcdef\"".utf8), limits: JSONLimits(maxBytes: 8)))
    }

    func testErrorsSayWhere() {
        do throws(JSONError) {
            _ = try JSONParser.parse(#"{"a": tru}"#)
            XCTFail()
        } catch {
            XCTAssertEqual(error.offset, 9)
            XCTAssertEqual("\(error)", "invalid literal at byte 9")
        }
    }
}

final class Base64URLTests: XCTestCase {
    func testRoundTripsEveryLength() {
        for length in 0..<40 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 250) }
            let text = Base64URL.encode(bytes)
            XCTAssertFalse(text.contains("=") || text.contains("+") || text.contains("/"), text)
            XCTAssertEqual(Base64URL.decode(text), bytes, text)
        }
    }

    func testKnownValues() {
        XCTAssertEqual(Base64URL.decode("eyJhbGciOiJub25lIn0"), Array(#"{"alg":"none"}"#.utf8))
        XCTAssertEqual(Base64URL.decode("_-8"), [0xFF, 0xEF])
        XCTAssertEqual(Base64URL.decode(""), [])
    }

    func testRefusesOtherSpellings() {
        for bad in ["eyJ=", "a+b/", "a b", "A", "AAAAA", "QR", "QUJ", "AB=="] {
            XCTAssertNil(Base64URL.decode(bad), bad)
        }
        XCTAssertEqual(Base64URL.decode("QQ"), [0x41])
        XCTAssertNil(Base64URL.decode("QR"), "non-zero trailing bits would give one token two spellings")
    }
}
