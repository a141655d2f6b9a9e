import GRPCWebCodec
import XCTest

final class GRPCTrailersTests: XCTestCase {
    func testEnvoyVector() {
        let frame = GRPCTrailers.frame([("grpc-status", "0"), ("grpc-message", "ok")])
        let expected: [UInt8] = [0x80, 0x00, 0x00, 0x00, 0x20] + Array("grpc-status:0\r\ngrpc-message:ok\r\n".utf8)
        XCTAssertEqual(frame, expected, hexString(frame))
    }

    func testEncodeAppendsAfterExistingBytes() {
        var out: [UInt8] = [1, 2]
        GRPCTrailers.encodeFrame([("grpc-status", "14")], into: &out)
        XCTAssertEqual(out, [1, 2, 0x80, 0, 0, 0, 16] + Array("grpc-status:14\r\n".utf8))
    }

    func testEmptyTrailers() {
        XCTAssertEqual(GRPCTrailers.frame([]), [0x80, 0, 0, 0, 0])
    }

    func testNamesLowercasedAndDuplicatesJoined() {
        let frame = GRPCTrailers.frame([("Grpc-Status", "0"), ("X-Trace", "a"), ("x-trace", "b"),
                                        ("grpc-message", ""), ("X-TRACE", "c")])
        let block = "grpc-status:0\r\nx-trace:a, b, c\r\ngrpc-message:\r\n"
        XCTAssertEqual(frame, [0x80, 0, 0, 0, UInt8(block.utf8.count)] + Array(block.utf8))
    }

    func testPseudoHeadersSkippedAndLineBreaksNeutralised() {
        let frame = GRPCTrailers.frame([(":status", "200"), ("", "x"), ("grpc-message", "a\r\ngrpc-status:0"),
                                        ("grpc-status", "13")])
        let block = "grpc-message:a  grpc-status:0\r\ngrpc-status:13\r\n"
        XCTAssertEqual(Array(frame.dropFirst(5)), Array(block.utf8))
        XCTAssertEqual(GRPCTrailers.parseBlock(Array(frame.dropFirst(5))).map { $0.0 }, ["grpc-message", "grpc-status"])
    }

    func testManyFieldsGroupedLikeFewFields() {
        // Above 16 fields the grouping switches to a dictionary; the output must not change.
        var fields: [(String, String)] = []
        for i in 0..<40 { fields.append(("X-K\(i % 7)", "v\(i)")) }
        let block = String(decoding: GRPCTrailers.frame(fields).dropFirst(5), as: UTF8.self)
        var expected = ""
        for k in 0..<7 {
            let vs = stride(from: k, to: 40, by: 7).map { "v\($0)" }.joined(separator: ", ")
            expected += "x-k\(k):\(vs)\r\n"
        }
        XCTAssertEqual(block, expected)
    }

    func testLengthUsesAllFourBytes() {
        let big = String(repeating: "v", count: 70_000)
        let frame = GRPCTrailers.frame([("x-big", big)])
        let length = 6 + 70_000 + 2
        XCTAssertEqual(Array(frame.prefix(5)), [0x80, 0, UInt8(length >> 16), UInt8((length >> 8) & 0xFF), UInt8(length & 0xFF)])
        XCTAssertEqual(frame.count, 5 + length)
    }

    func testParseBlockForms() {
        let block = Array("grpc-status: 0\r\nGrpc-Message:ok\r\nx-a :  spaced value \t\r\nnocolon\r\n: empty-name\r\nx-url:http://h:1/p\nx-last:1".utf8)
        let fields = GRPCTrailers.parseBlock(block)
        XCTAssertEqual(fields.map { $0.0 }, ["grpc-status", "grpc-message", "x-a", "x-url", "x-last"])
        XCTAssertEqual(fields.map { $0.1 }, ["0", "ok", "spaced value", "http://h:1/p", "1"])
    }

    func testParseBlockKeepsDuplicatesAndOrder() {
        let fields = GRPCTrailers.parseBlock(Array("a:1\r\nb:2\r\na:3\r\n".utf8))
        XCTAssertEqual(fields.map { "\($0.0)=\($0.1)" }, ["a=1", "b=2", "a=3"])
        XCTAssertTrue(GRPCTrailers.parseBlock([]).isEmpty)
        XCTAssertTrue(GRPCTrailers.parseBlock(Array("\r\n\r\n".utf8)).isEmpty)
    }

    func testRoundTripThroughDecoder() {
        let fields = [("grpc-status", "3"), ("grpc-message", GRPCMessageEncoding.percentEncode("bad: ü")),
                      ("x-bin-bin", Base64.encode([0, 1, 2]))]
        let wire = GRPCTrailers.frame(fields)
        var d = GRPCFrameDecoder(maxMessageSize: 1000)
        var frames: [GRPCFrame] = []
        XCTAssertNoThrow(try wire.withUnsafeBytes { try d.decode($0, into: &frames) })
        XCTAssertEqual(frames.count, 1)
        XCTAssertEqual(frames.first?.flags, 0x80)
        let parsed = GRPCTrailers.parseBlock(frames.first?.payload ?? [])
        XCTAssertEqual(parsed.map { $0.0 }, fields.map { $0.0 })
        XCTAssertEqual(parsed.map { $0.1 }, fields.map { $0.1 })
    }
}
