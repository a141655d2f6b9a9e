import XCTest
import WebSocketCodec

final class GRPCWebSocketsMetadataTests: XCTestCase {
    private func parse(_ text: String, maxSize: Int = 8192, maxCount: Int = 100) throws -> [[String]] {
        try parse(bytes(text), maxSize: maxSize, maxCount: maxCount)
    }

    private func parse(_ raw: [UInt8], maxSize: Int = 8192, maxCount: Int = 100) throws -> [[String]] {
        try GRPCWebSocketsMetadata.parse(raw, maxSize: maxSize, maxCount: maxCount).map { [$0.0, $0.1] }
    }

    private func code(_ raw: [UInt8], maxSize: Int = 8192, maxCount: Int = 100) -> UInt16? {
        do {
            _ = try GRPCWebSocketsMetadata.parse(raw, maxSize: maxSize, maxCount: maxCount)
            return nil
        } catch {
            XCTAssertFalse(error.reason.isEmpty)
            return error.closeCode
        }
    }

    func testImprobableClientBlock() throws {
        // What the improbable-eng JS client sends: no CRLF after the last line.
        let block = "content-type: application/grpc-web+proto\r\nx-grpc-web: 1\r\nx-user-agent: grpc-web-javascript/0.1"
        let expected = [["content-type", "application/grpc-web+proto"], ["x-grpc-web", "1"],
                        ["x-user-agent", "grpc-web-javascript/0.1"]]
        XCTAssertEqual(try parse(block), expected)
        XCTAssertEqual(try parse(block + "\r\n"), expected)
    }

    func testNormalisation() throws {
        XCTAssertEqual(try parse("Content-Type:application/grpc\r\nX-Multi:  v1, v2 \t\r\n\r\nx-empty:\r\nx-tab: a\tb\n\nX-Bin-bin: AAEC\r\n"),
                       [["content-type", "application/grpc"], ["x-multi", "v1, v2"], ["x-empty", ""],
                        ["x-tab", "a\tb"], ["x-bin-bin", "AAEC"]])
        // Repeated names are kept in order, values may contain colons.
        XCTAssertEqual(try parse("a: 1\r\nA: 2\r\nurl: http://x:80/"), [["a", "1"], ["a", "2"], ["url", "http://x:80/"]])
        XCTAssertEqual(try parse(""), [])
        XCTAssertEqual(try parse("\r\n\r\n"), [])
        // All tchar symbols are legal in names.
        XCTAssertEqual(try parse("!#$%&'*+-.^_`|~09az: v"), [["!#$%&'*+-.^_`|~09az", "v"]])
    }

    func testMalformed() {
        XCTAssertEqual(code(bytes("no colon here")), 1002)
        XCTAssertEqual(code(bytes("a: 1\r\nbroken\r\n")), 1002)
        XCTAssertEqual(code(bytes("name : v")), 1002)           // whitespace before the colon
        XCTAssertEqual(code(bytes(": v")), 1002)                // empty name
        XCTAssertEqual(code(bytes("na(me: v")), 1002)           // not a token
        XCTAssertEqual(code(bytes("na\u{7F}me: v")), 1002)
        XCTAssertEqual(code(bytes("a: 1\r\n folded")), 1002)    // obsolete line folding
        XCTAssertEqual(code(bytes("a: 1\r\n\tfolded")), 1002)
        XCTAssertEqual(code(bytes("a: x\u{01}y")), 1002)        // CTL in value
        XCTAssertEqual(code(bytes("a: x\u{7F}")), 1002)         // DEL
        XCTAssertEqual(code(bytes("a: x\ry: 1")), 1002)         // bare CR inside a line
        XCTAssertEqual(code(bytes("a: x\0")), 1002)             // NUL
        XCTAssertEqual(code(bytes("a: caf\u{E9}")), 1002)       // non-ASCII value
        XCTAssertEqual(code(bytes("caf\u{E9}: v")), 1002)       // non-ASCII name
    }

    func testSizeLimit() throws {
        let block = bytes("x-grpc-web: 1\r\n")  // 15 bytes
        XCTAssertEqual(try parse(block, maxSize: 15), [["x-grpc-web", "1"]])
        XCTAssertEqual(code(block, maxSize: 14), 1008)
    }

    func testCountLimit() throws {
        let block = bytes("a: 1\r\nb: 2\r\n\r\nc: 3")
        XCTAssertEqual(try parse(block, maxCount: 3).count, 3)
        XCTAssertEqual(code(block, maxCount: 2), 1008)
        XCTAssertEqual(code(block, maxCount: 0), 1008)
        XCTAssertEqual(try parse([], maxCount: 0), [])
    }
}
