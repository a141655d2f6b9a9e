import GRPCWebCodec
import XCTest

final class HTTPHeadersParamTests: XCTestCase {
    private func decode(_ encoded: String, max: Int = 8192, fields: Int = 100) throws -> [(String, String)] {
        try HTTPHeadersParam.decode(Substring(encoded), maxEncodedSize: max, maxFields: fields)
    }

    private func assertRefused(_ encoded: String, _ kind: HTTPHeadersParamError.Kind, containing words: String,
                               max: Int = 8192, fields: Int = 100, line: UInt = #line) {
        do {
            _ = try decode(encoded, max: max, fields: fields)
            XCTFail("accepted \(encoded)", line: line)
        } catch let error as HTTPHeadersParamError {
            XCTAssertEqual(error.kind, kind, error.message, line: line)
            XCTAssertTrue(error.message.contains(words), error.message, line: line)
        } catch {
            XCTFail("\(error)", line: line)
        }
    }

    // MARK: Finding the parameter

    func testFindsTheEncodedNameAndStripsItFromTheTarget() throws {
        let found = try XCTUnwrap(HTTPHeadersParam.find(in: "/pkg.Svc/M?%24httpHeaders=foo%3Abar%0D%0A"))
        XCTAssertEqual(found.encodedValue, "foo%3Abar%0D%0A")
        XCTAssertEqual(found.remainingTarget, "/pkg.Svc/M")
    }

    func testFindsTheLiteralNameAndKeepsOtherParameters() throws {
        let found = try XCTUnwrap(HTTPHeadersParam.find(in: "/a.B/C?x=1&$httpHeaders=a%3Ab&y=2"))
        XCTAssertEqual(found.encodedValue, "a%3Ab")
        XCTAssertEqual(found.remainingTarget, "/a.B/C?x=1&y=2")
    }

    func testNoParameter() throws {
        XCTAssertNil(try HTTPHeadersParam.find(in: "/a.B/C"))
        XCTAssertNil(try HTTPHeadersParam.find(in: "/a.B/C?x=1"))
        XCTAssertNil(try HTTPHeadersParam.find(in: "/a.B/C?httpHeaders=a%3Ab"), "without the $ it is another parameter")
        XCTAssertNil(try HTTPHeadersParam.find(in: "/a.B/C?%24httpHeadersX=a%3Ab"))
    }

    func testParameterTwiceIsRefused() {
        XCTAssertThrowsError(try HTTPHeadersParam.find(in: "/a.B/C?%24httpHeaders=a%3Ab&$httpHeaders=c%3Ad")) { error in
            XCTAssertEqual((error as? HTTPHeadersParamError)?.kind, .duplicate)
        }
    }

    // MARK: Decoding

    func testClosureLibraryVector() throws {
        // goog.net.rpc.HttpCors's own test: {'foo': 'bar'} encodes as 'foo%3Abar%0D%0A'.
        let fields = try decode("foo%3Abar%0D%0A")
        XCTAssertEqual(fields.map(\.0), ["foo"])
        XCTAssertEqual(fields.map(\.1), ["bar"])
    }

    func testOfficialClientBlock() throws {
        let block = "x-custom%3Av%C3%A9%20x%0D%0AContent-Type%3Aapplication%2Fgrpc-web-text%0D%0AAccept%3Aapplication%2Fgrpc-web-text"
            + "%0D%0AX-User-Agent%3Agrpc-web-javascript%2F0.1%0D%0AX-Grpc-Web%3A1%0D%0Agrpc-timeout%3A1500m%0D%0A"
        let fields = try decode(block)
        XCTAssertEqual(fields.map(\.0), ["x-custom", "Content-Type", "Accept", "X-User-Agent", "X-Grpc-Web", "grpc-timeout"])
        XCTAssertEqual(fields.map(\.1), ["vé x", "application/grpc-web-text", "application/grpc-web-text",
                                         "grpc-web-javascript/0.1", "1", "1500m"])
    }

    func testPlusIsASpaceAndWhitespaceAroundValuesIsTrimmed() throws {
        let fields = try decode("x-a%3A+%20two+words%09%0D%0Ax-b:plain")
        XCTAssertEqual(fields.map(\.1), ["two words", "plain"])
    }

    func testMalformedPercentEncoding() {
        assertRefused("x-a%3Ab%ZZ", .malformed, containing: "percent-encoding at offset 7")
        assertRefused("x-a%3Ab%0", .malformed, containing: "percent-encoding")
        assertRefused("x-a%3Ab%", .malformed, containing: "percent-encoding")
    }

    func testLoneCROrLFIsRefused() {
        assertRefused("x-a%3Ab%0Ax-c%3Ad", .malformed, containing: "CRLF")
        assertRefused("x-a%3Ab%0Dx-c%3Ad", .malformed, containing: "CRLF")
        assertRefused("x-a%3Ab%0D", .malformed, containing: "CRLF")
    }

    func testLineShapes() {
        assertRefused("x-a%3Ab%0D%0A%0D%0Ax-c%3Ad", .malformed, containing: "line 2 of $httpHeaders is empty")
        assertRefused("novalue%0D%0A", .malformed, containing: "no ':'")
        assertRefused("%3Ab", .forbidden, containing: "pseudo-header")
        assertRefused("x%20a%3Ab", .malformed, containing: "not a valid header name")
        assertRefused("x-a%3Ab%00c", .malformed, containing: "control character")
        assertRefused("x-a%3A%FF", .malformed, containing: "not UTF-8")
        assertRefused("", .malformed, containing: "holds no header")
        assertRefused("%0D%0A", .malformed, containing: "empty")
    }

    func testForbiddenNames() {
        for name in ["Host", "cookie", "Content-Length", "transfer-encoding", "connection", "te", "upgrade", "origin",
                     "Referer", "keep-alive", "Proxy-Authorization", "sec-fetch-site", "X-HTTP-Method-Override"] {
            assertRefused("\(name)%3Ax", .forbidden, containing: "\(name) cannot be set")
        }
        assertRefused("%3Apath%3A%2Fx.Y%2FZ", .forbidden, containing: "pseudo-header :path")
        XCTAssertNil(HTTPHeadersParam.forbiddenReason("authorization"))
        XCTAssertNil(HTTPHeadersParam.forbiddenReason("x-forwarded-for"))
    }

    func testDuplicatesAnyCase() {
        assertRefused("x-a%3A1%0D%0AX-A%3A2", .duplicate, containing: "X-A appears more than once")
    }

    func testLimits() throws {
        let one = "x-a%3Ab%0D%0A"
        XCTAssertEqual(try decode(one, max: one.utf8.count).count, 1)
        assertRefused(one, .tooLarge, containing: "over the limit of 12", max: 12)
        let three = "a%3A1%0D%0Ab%3A2%0D%0Ac%3A3"
        XCTAssertEqual(try decode(three, fields: 3).count, 3)
        assertRefused(three, .tooManyLines, containing: "more than 2 header lines", fields: 2)
    }

    func testRandomInputNeverCrashes() {
        var rng = SeededRNG(seed: 13)
        let alphabet = Array("%0DAa:;\r\n+ x-=&$".utf8) + Array("%3A%0D%0A".utf8)
        for _ in 0..<2000 {
            let bytes = (0..<Int.random(in: 0...40, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }
            let text = String(decoding: bytes, as: UTF8.self)
            _ = try? decode(text)
            _ = try? HTTPHeadersParam.find(in: "/a?" + text)
        }
    }
}
