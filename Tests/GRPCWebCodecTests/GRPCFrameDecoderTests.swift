import GRPCWebCodec
import XCTest

final class GRPCFrameDecoderTests: XCTestCase {
    /// Decodes `bytes` with every chunking; all must yield `expected` and end at a boundary.
    private func assertDecodes(_ bytes: [UInt8], _ expected: [GRPCFrame], limit: Int = 1 << 20,
                               file: StaticString = #filePath, line: UInt = #line) {
        for ranges in chunkings(count: bytes.count) {
            var d = GRPCFrameDecoder(maxMessageSize: limit)
            var frames: [GRPCFrame] = []
            do {
                for r in ranges { try bytes[r].withUnsafeBytes { try d.decode($0, into: &frames) } }
                try d.finish()
            } catch {
                XCTFail("unexpected \(error) for chunks \(describe(ranges))", file: file, line: line)
                continue
            }
            XCTAssertEqual(frames, expected, describe(ranges), file: file, line: line)
            XCTAssertTrue(d.isAtMessageBoundary, file: file, line: line)
        }
    }

    func testEnvoyTrailerVector() {
        let block = Array("grpc-status:0\r\ngrpc-message:ok\r\n".utf8)
        XCTAssertEqual(block.count, 32)
        let wire: [UInt8] = [0x80, 0x00, 0x00, 0x00, 0x20] + block
        assertDecodes(wire, [GRPCFrame(flags: 0x80, payload: block)])
    }

    func testDataAndTrailerSequence() {
        // Hand-written bytes, not produced by our own encoder.
        let wire: [UInt8] = [0x00, 0, 0, 0, 3, 0x0A, 0x01, 0x61,
                             0x00, 0, 0, 0, 0,
                             0x01, 0, 0, 0, 2, 0xFF, 0xEE,
                             0x80, 0, 0, 0, 15] + Array("grpc-status:0\r\n".utf8)
        assertDecodes(wire, [GRPCFrame(flags: 0, payload: [0x0A, 0x01, 0x61]),
                             GRPCFrame(flags: 0, payload: []),
                             GRPCFrame(flags: 1, payload: [0xFF, 0xEE]),
                             GRPCFrame(flags: 0x80, payload: Array("grpc-status:0\r\n".utf8))])
    }

    func testRoundTripRandomFrames() {
        var rng = SeededRNG(seed: 7)
        for _ in 0..<20 {
            var frames: [GRPCFrame] = []
            var wire: [UInt8] = []
            for _ in 0..<Int.random(in: 0...8, using: &rng) {
                let flags: UInt8 = [0x00, 0x00, 0x01, 0x80].randomElement(using: &rng)!
                let f = GRPCFrame(flags: flags, payload: randomBytes(Int.random(in: 0...90, using: &rng), &rng))
                frames.append(f)
                wire += GRPCFraming.frame(flags: f.flags, f.payload)
            }
            assertDecodes(wire, frames, limit: 90)
        }
    }

    func testLimitExactlyAndOneOver() {
        assertDecodes(GRPCFraming.frame([UInt8](repeating: 3, count: 64)),
                      [GRPCFrame(payload: [UInt8](repeating: 3, count: 64))], limit: 64)
        for ranges in chunkings(count: 70) {
            let wire = GRPCFraming.frame([UInt8](repeating: 3, count: 65))
            var d = GRPCFrameDecoder(maxMessageSize: 64)
            var frames: [GRPCFrame] = []
            var caught: GRPCFrameError?
            do {
                for r in ranges { try wire[r].withUnsafeBytes { try d.decode($0, into: &frames) } }
            } catch { caught = error as? GRPCFrameError }
            XCTAssertEqual(caught?.kind, .messageTooLarge(size: 65, limit: 64), describe(ranges))
            XCTAssertEqual(caught?.status, .resourceExhausted)
            XCTAssertEqual(frames, [])
        }
    }

    func testFramesBeforeAnErrorAreDelivered() {
        let wire = GRPCFraming.frame([1]) + [0x02, 0, 0, 0, 0]
        var d = GRPCFrameDecoder(maxMessageSize: 10)
        var frames: [GRPCFrame] = []
        XCTAssertThrowsError(try wire.withUnsafeBytes { try d.decode($0, into: &frames) }) { error in
            XCTAssertEqual((error as? GRPCFrameError)?.kind, .unsupportedFlags(0x02))
        }
        XCTAssertEqual(frames, [GRPCFrame(payload: [1])])
        XCTAssertThrowsError(try [UInt8]([0, 0, 0, 0, 0]).withUnsafeBytes { try d.decode($0, into: &frames) })
        XCTAssertEqual(frames.count, 1)
    }

    func testTruncated() {
        let wire = GRPCFraming.frame([1, 2, 3])
        for cut in 1..<wire.count {
            var d = GRPCFrameDecoder(maxMessageSize: 10)
            var frames: [GRPCFrame] = []
            XCTAssertNoThrow(try wire[0..<cut].withUnsafeBytes { try d.decode($0, into: &frames) })
            XCTAssertFalse(d.isAtMessageBoundary)
            XCTAssertEqual(frames, [])
            XCTAssertThrowsError(try d.finish()) { XCTAssertEqual(($0 as? GRPCFrameError)?.kind, .truncated) }
        }
    }

    func testRandomJunkNeverCrashes() {
        // Envoy's fuzz property: arbitrary input either decodes or fails cleanly.
        var rng = SeededRNG(seed: 99)
        for _ in 0..<300 {
            let junk = randomBytes(Int.random(in: 0...64, using: &rng), &rng)
            var d = GRPCFrameDecoder(maxMessageSize: 32)
            var frames: [GRPCFrame] = []
            _ = try? junk.withUnsafeBytes { try d.decode($0, into: &frames) }
            XCTAssertTrue(frames.allSatisfy { $0.payload.count <= 32 })
        }
    }

    func testFramingHeader() {
        var out: [UInt8] = [0xEE]
        GRPCFraming.writeHeader(flags: 0x80, length: 0x0102_0304, into: &out)
        XCTAssertEqual(out, [0xEE, 0x80, 0x01, 0x02, 0x03, 0x04])
        XCTAssertEqual(GRPCFraming.frame([9, 8]), [0, 0, 0, 0, 2, 9, 8])
        XCTAssertEqual(GRPCFraming.frame(flags: 1, []), [1, 0, 0, 0, 0])
        var max: [UInt8] = []
        GRPCFraming.writeHeader(flags: 0, length: Int(UInt32.max), into: &max)
        XCTAssertEqual(max, [0, 0xFF, 0xFF, 0xFF, 0xFF])
    }

    func testFrameProperties() {
        XCTAssertTrue(GRPCFrame(flags: 0x80, payload: []).isTrailer)
        XCTAssertFalse(GRPCFrame(flags: 0x01, payload: []).isTrailer)
        XCTAssertTrue(GRPCFrame(flags: 0x81, payload: []).isCompressed)
        XCTAssertFalse(GRPCFrame(flags: 0x00, payload: []).isCompressed)
    }
}
