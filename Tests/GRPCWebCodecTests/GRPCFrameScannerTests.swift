import GRPCWebCodec
import XCTest

final class GRPCFrameScannerTests: XCTestCase {
    /// Scans `bytes` with every chunking and checks each one ends in the same state.
    private func assertScans(_ bytes: [UInt8], limit: Int = 1 << 20, trailers: Bool = false,
                             messages: Int, sawTrailer: Bool = false, boundary: Bool = true,
                             file: StaticString = #filePath, line: UInt = #line) {
        for ranges in chunkings(count: bytes.count) {
            var s = GRPCFrameScanner(maxMessageSize: limit, allowTrailerFrames: trailers)
            do {
                for r in ranges { try bytes[r].withUnsafeBytes { try s.scan($0) } }
            } catch {
                XCTFail("unexpected \(error) for chunks \(describe(ranges))", file: file, line: line)
                continue
            }
            XCTAssertEqual(s.messageCount, messages, describe(ranges), file: file, line: line)
            XCTAssertEqual(s.sawTrailerFrame, sawTrailer, describe(ranges), file: file, line: line)
            XCTAssertEqual(s.isAtMessageBoundary, boundary, describe(ranges), file: file, line: line)
        }
    }

    /// Scans `bytes` with every chunking and checks each one throws exactly `expected`.
    private func assertFails(_ bytes: [UInt8], _ expected: GRPCFrameError, limit: Int = 1 << 20,
                             trailers: Bool = false, compressed: Bool = false,
                             file: StaticString = #filePath, line: UInt = #line) {
        for ranges in chunkings(count: bytes.count) {
            var s = GRPCFrameScanner(maxMessageSize: limit, allowTrailerFrames: trailers, allowCompressed: compressed)
            var caught: GRPCFrameError?
            do {
                for r in ranges { try bytes[r].withUnsafeBytes { try s.scan($0) } }
            } catch {
                caught = error as? GRPCFrameError
            }
            XCTAssertEqual(caught, expected, describe(ranges), file: file, line: line)
        }
    }

    func testCountsMessagesAcrossEverySplit() {
        var stream: [UInt8] = []
        stream += GRPCFraming.frame([1, 2, 3])
        stream += GRPCFraming.frame([])
        stream += GRPCFraming.frame(Array(repeating: 0xAB, count: 300))
        stream += GRPCFraming.frame([0x80, 0, 0, 0, 5]) // payload that looks like a header
        assertScans(stream, messages: 4)
    }

    func testHeaderBytesAreBigEndian() {
        // 0x00000105 = 261 bytes of payload: a little-endian reader would expect 0x05010000.
        let stream: [UInt8] = [0, 0, 0, 1, 5] + Array(repeating: 7, count: 261)
        assertScans(stream, messages: 1)
        assertScans(Array(stream.dropLast()), messages: 0, boundary: false)
    }

    func testLimitExactlyAndOneOver() {
        let atLimit = GRPCFraming.frame(Array(repeating: 1, count: 100))
        assertScans(atLimit, limit: 100, messages: 1)
        let over = GRPCFraming.frame(Array(repeating: 1, count: 101))
        let expected = GRPCFrameError(kind: .messageTooLarge(size: 101, limit: 100),
                                      message: "request message of 101 bytes exceeds the limit of 100",
                                      status: .resourceExhausted)
        assertFails(over, expected, limit: 100)
        // Rejected from the header alone, before any payload arrives.
        assertFails(Array(over.prefix(5)), expected, limit: 100)
    }

    func testHugeAnnouncedLengthRejectedWithExactMessage() {
        var s = GRPCFrameScanner(maxMessageSize: 4_194_304)
        XCTAssertThrowsError(try [UInt8]([0, 0, 0x50, 0, 0]).withUnsafeBytes { try s.scan($0) }) { error in
            let e = error as? GRPCFrameError
            XCTAssertEqual(e?.kind, .messageTooLarge(size: 5_242_880, limit: 4_194_304))
            XCTAssertEqual(e?.message, "request message of 5242880 bytes exceeds the limit of 4194304")
            XCTAssertEqual(e?.status, .resourceExhausted)
        }
        let max: [UInt8] = [0, 0xFF, 0xFF, 0xFF, 0xFF]
        var t = GRPCFrameScanner(maxMessageSize: 10, label: "response")
        XCTAssertThrowsError(try max.withUnsafeBytes { try t.scan($0) }) { error in
            XCTAssertEqual((error as? GRPCFrameError)?.kind, .messageTooLarge(size: 4_294_967_295, limit: 10))
            XCTAssertEqual((error as? GRPCFrameError)?.message, "response message of 4294967295 bytes exceeds the limit of 10")
        }
    }

    func testZeroLimitAllowsOnlyEmptyMessages() {
        assertScans(GRPCFraming.frame([]) + GRPCFraming.frame([]), limit: 0, messages: 2)
        assertFails(GRPCFraming.frame([9]), .messageTooLarge(size: 1, limit: 0, label: "request"), limit: 0)
    }

    func testTruncationIsVisibleAtEveryCut() {
        let stream = GRPCFraming.frame([1, 2, 3, 4]) + GRPCFraming.frame([5, 6])
        for cut in 0...stream.count {
            var s = GRPCFrameScanner(maxMessageSize: 100)
            XCTAssertNoThrow(try stream[0..<cut].withUnsafeBytes { try s.scan($0) })
            let complete = cut == 0 || cut == 9 || cut == stream.count
            XCTAssertEqual(s.isAtMessageBoundary, complete, "cut \(cut)")
            if complete {
                XCTAssertNoThrow(try s.finish(), "cut \(cut)")
            } else {
                XCTAssertThrowsError(try s.finish(), "cut \(cut)") { error in
                    XCTAssertEqual((error as? GRPCFrameError)?.kind, .truncated)
                    XCTAssertEqual((error as? GRPCFrameError)?.status, .internalError)
                }
            }
        }
    }

    func testFlagValidation() {
        let compressed = GRPCFraming.frame(flags: 0x01, [1, 2])
        let trailer = GRPCFraming.frame(flags: 0x80, Array("grpc-status:0\r\n".utf8))
        let compressedTrailer = GRPCFraming.frame(flags: 0x81, [1])

        assertFails(compressed, .unsupportedFlags(0x01, label: "request"))
        assertFails(trailer, .unsupportedFlags(0x80, label: "request"))
        assertFails(compressedTrailer, .unsupportedFlags(0x81, label: "request"), trailers: true)
        assertFails(compressedTrailer, .unsupportedFlags(0x81, label: "request"), compressed: true)
        for flags: UInt8 in [0x02, 0x04, 0x40, 0x7F, 0xFF, 0x82] {
            assertFails(GRPCFraming.frame(flags: flags, [1]), .unsupportedFlags(flags, label: "request"),
                        trailers: true, compressed: true)
        }
        // The flag byte alone is enough to reject.
        assertFails([0x02], .unsupportedFlags(0x02, label: "request"))

        assertScans(GRPCFraming.frame([1]) + trailer, trailers: true, messages: 1, sawTrailer: true)
        var both = GRPCFrameScanner(maxMessageSize: 10, allowTrailerFrames: true, allowCompressed: true)
        XCTAssertNoThrow(try (compressed + compressedTrailer).withUnsafeBytes { try both.scan($0) })
        XCTAssertEqual(both.messageCount, 1)
        XCTAssertTrue(both.sawTrailerFrame)
    }

    func testUnsupportedFlagsErrorShape() {
        let e = GRPCFrameError.unsupportedFlags(0x01, label: "response")
        XCTAssertEqual(e.kind, .unsupportedFlags(0x01))
        XCTAssertEqual(e.status, .internalError)
        XCTAssertEqual(e.message, "response frame has unsupported flags 0x01")
    }

    func testTrailerFrameSeenOnlyWhenComplete() {
        let trailer = GRPCFraming.frame(flags: 0x80, [1, 2, 3])
        var s = GRPCFrameScanner(maxMessageSize: 10, allowTrailerFrames: true)
        XCTAssertNoThrow(try trailer.dropLast().withUnsafeBytes { try s.scan($0) })
        XCTAssertFalse(s.sawTrailerFrame)
        XCTAssertNoThrow(try trailer.suffix(1).withUnsafeBytes { try s.scan($0) })
        XCTAssertTrue(s.sawTrailerFrame)
        XCTAssertEqual(s.messageCount, 0)
    }

    func testErrorIsSticky() {
        var s = GRPCFrameScanner(maxMessageSize: 2)
        XCTAssertThrowsError(try GRPCFraming.frame([1, 2, 3]).withUnsafeBytes { try s.scan($0) })
        // A perfectly valid frame afterwards must not resurrect the stream.
        XCTAssertThrowsError(try GRPCFraming.frame([1]).withUnsafeBytes { try s.scan($0) }) { error in
            XCTAssertEqual((error as? GRPCFrameError)?.kind, .messageTooLarge(size: 3, limit: 2))
        }
        XCTAssertThrowsError(try s.finish())
    }

    func testRandomStreamsMatchFrameCount() {
        var rng = SeededRNG(seed: 42)
        for _ in 0..<30 {
            var stream: [UInt8] = []
            let count = Int.random(in: 0...12, using: &rng)
            for _ in 0..<count {
                stream += GRPCFraming.frame(randomBytes(Int.random(in: 0...70, using: &rng), &rng))
            }
            assertScans(stream, limit: 70, messages: count)
        }
    }

    func testLargePayloadSkippedInBigChunks() {
        let payload = [UInt8](repeating: 0x55, count: 3 << 20)
        let stream = GRPCFraming.frame(payload) + GRPCFraming.frame([1])
        var s = GRPCFrameScanner(maxMessageSize: 4 << 20)
        var at = 0
        while at < stream.count {
            let end = min(at + 65_536, stream.count)
            XCTAssertNoThrow(try stream[at..<end].withUnsafeBytes { try s.scan($0) })
            at = end
        }
        XCTAssertEqual(s.messageCount, 2)
        XCTAssertTrue(s.isAtMessageBoundary)
    }
}
