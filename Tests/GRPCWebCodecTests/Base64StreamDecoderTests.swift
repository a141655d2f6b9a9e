import GRPCWebCodec
import XCTest

final class Base64StreamDecoderTests: XCTestCase {
    private func decodeAllChunkings(_ text: String, expect: [UInt8],
                                    file: StaticString = #filePath, line: UInt = #line) {
        let bytes = Array(text.utf8)
        for ranges in chunkings(count: bytes.count) {
            var d = Base64StreamDecoder()
            var out: [UInt8] = []
            do {
                for r in ranges { try bytes[r].withUnsafeBytes { try d.decode($0, into: &out) } }
                try d.finish()
            } catch {
                XCTFail("\(text): unexpected \(error) for chunks \(describe(ranges))", file: file, line: line)
                continue
            }
            XCTAssertEqual(out, expect, "\(text) chunks \(describe(ranges))", file: file, line: line)
        }
    }

    /// Every chunking must fail with the same message (the position is absolute, not per chunk).
    private func assertRejects(_ text: [UInt8], message: String, file: StaticString = #filePath, line: UInt = #line) {
        for ranges in chunkings(count: text.count) {
            var d = Base64StreamDecoder()
            var out: [UInt8] = []
            var caught: Base64Error?
            do {
                for r in ranges { try text[r].withUnsafeBytes { try d.decode($0, into: &out) } }
                try d.finish()
            } catch { caught = error as? Base64Error }
            XCTAssertEqual(caught?.message, message, "chunks \(describe(ranges))", file: file, line: line)
        }
    }

    func testRFC4648VectorsEverySplit() {
        decodeAllChunkings("", expect: [])
        decodeAllChunkings("Zg==", expect: Array("f".utf8))
        decodeAllChunkings("Zm8=", expect: Array("fo".utf8))
        decodeAllChunkings("Zm9vYmFy", expect: Array("foobar".utf8))
        decodeAllChunkings("Zm9vYg==", expect: Array("foob".utf8))
        decodeAllChunkings("Zm9vYmE=", expect: Array("fooba".utf8))
    }

    func testIndependentlyPaddedChunksConcatenated() {
        decodeAllChunkings("AAA=AAA=", expect: [0, 0, 0, 0])
        decodeAllChunkings("Zg==Zm8=Zm9v", expect: Array("ffofoo".utf8))
        decodeAllChunkings("Zg==Zg==Zg==Zg==", expect: Array("ffff".utf8))
        decodeAllChunkings("Zm9vYmFyZg==Zm9vYmFy", expect: Array("foobarffoobar".utf8))
    }

    func testEnvoyTextTrailer() {
        let frame: [UInt8] = [0x80, 0, 0, 0, 0x20] + Array("grpc-status:0\r\ngrpc-message:ok\r\n".utf8)
        decodeAllChunkings("gAAAACBncnBjLXN0YXR1czowDQpncnBjLW1lc3NhZ2U6b2sNCg==", expect: frame)
    }

    func testRandomRoundTripWithRandomPaddedPieces() {
        var rng = SeededRNG(seed: 2024)
        for round in 0..<40 {
            let data = randomBytes(Int.random(in: 0...120, using: &rng), &rng)
            var text: [UInt8] = []
            var at = 0
            while at < data.count {
                let n = min(Int.random(in: 1...(round % 2 == 0 ? 10 : 60), using: &rng), data.count - at)
                text += Array(Base64.encode(Array(data[at..<(at + n)])).utf8)
                at += n
            }
            decodeAllChunkings(String(decoding: text, as: UTF8.self), expect: data)
        }
    }

    func testLargeBodyInRandomChunks() {
        var rng = SeededRNG(seed: 5)
        let data = randomBytes(100_000, &rng)
        let text = Array(Base64.encode(data).utf8)
        var d = Base64StreamDecoder()
        var out: [UInt8] = []
        var at = 0
        while at < text.count {
            let n = min(Int.random(in: 1...5000, using: &rng), text.count - at)
            XCTAssertNoThrow(try text[at..<(at + n)].withUnsafeBytes { try d.decode($0, into: &out) })
            at += n
        }
        XCTAssertNoThrow(try d.finish())
        XCTAssertEqual(out, data)
    }

    func testInvalidCharactersRejectedWithAbsoluteOffset() {
        assertRejects(Array("Zm9v Zm9v".utf8), message: "invalid base64 character 0x20 at offset 4")
        assertRejects(Array("Zm9vZm9\n".utf8), message: "invalid base64 character 0x0A at offset 7")
        assertRejects(Array("Zm9vZm9-".utf8), message: "invalid base64 character 0x2D at offset 7")
        assertRejects(Array("_m9v".utf8), message: "invalid base64 character 0x5F at offset 0")
        assertRejects([0x5A, 0x6D, 0xC3, 0xA9], message: "invalid base64 character 0xC3 at offset 2")
        assertRejects([0x5A, 0x6D, 0x39, 0x00], message: "invalid base64 character 0x00 at offset 3")
    }

    func testMisplacedPaddingRejected() {
        assertRejects(Array("Zg=a".utf8), message: "invalid base64 character 0x61 at offset 3")
        assertRejects(Array("Z===".utf8), message: "misplaced '=' padding at offset 1")
        assertRejects(Array("====".utf8), message: "misplaced '=' padding at offset 0")
        assertRejects(Array("Zm9v=AAA".utf8), message: "misplaced '=' padding at offset 4")
        assertRejects(Array("Zm9vZ=AA".utf8), message: "misplaced '=' padding at offset 5")
    }

    func testIncompleteQuantumAtEnd() {
        for (text, left) in [("Z", 1), ("Zm", 2), ("Zm9", 3), ("Zm9vZ", 1), ("Zg==Zm", 2), ("Zm=", 3)] {
            let bytes = Array(text.utf8)
            for ranges in chunkings(count: bytes.count) {
                var d = Base64StreamDecoder()
                var out: [UInt8] = []
                XCTAssertNoThrow(try {
                    for r in ranges { try bytes[r].withUnsafeBytes { try d.decode($0, into: &out) } }
                }())
                XCTAssertFalse(d.isAtQuantumBoundary)
                XCTAssertThrowsError(try d.finish(), text) { error in
                    XCTAssertEqual((error as? Base64Error)?.message,
                                   "base64 body ends with an incomplete group of \(left) character(s)")
                }
            }
        }
    }

    func testErrorIsSticky() {
        var d = Base64StreamDecoder()
        var out: [UInt8] = []
        // Characters are validated per complete quantum, so "!" only fails once its group of 4 is complete.
        XCTAssertNoThrow(try Array("Zm9v!A".utf8).withUnsafeBytes { try d.decode($0, into: &out) })
        XCTAssertEqual(out, Array("foo".utf8))
        XCTAssertThrowsError(try Array("AA".utf8).withUnsafeBytes { try d.decode($0, into: &out) }) { error in
            XCTAssertEqual((error as? Base64Error)?.message, "invalid base64 character 0x21 at offset 4")
        }
        // Valid input afterwards must not resurrect the body.
        XCTAssertThrowsError(try Array("Zm9v".utf8).withUnsafeBytes { try d.decode($0, into: &out) })
        XCTAssertThrowsError(try d.finish())
        XCTAssertEqual(out, Array("foo".utf8))
    }
}
