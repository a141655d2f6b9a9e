import XCTest
import GRPCWebCodec

/// Issue #13 for gRPC framing: a message limit near Int.max with the largest 32-bit lengths. Nothing may overflow;
/// the decoder buffers only what arrives, and the stream ends as truncated.
final class GRPCFrameLimitOverflowTests: XCTestCase {
    private let maxHeader: [UInt8] = [0x00, 0xFF, 0xFF, 0xFF, 0xFF]

    func testScannerAndDecoderWithIntMaxLimit() throws {
        for limit in [Int.max, Int.max - 1, Int(UInt32.max)] {
            var scanner = GRPCFrameScanner(maxMessageSize: limit)
            var decoder = GRPCFrameDecoder(maxMessageSize: limit)
            var frames: [GRPCFrame] = []
            for piece in [maxHeader, [1, 2, 3]] {
                try piece.withUnsafeBytes { try scanner.scan($0) }
                try piece.withUnsafeBytes { try decoder.decode($0, into: &frames) }
            }
            XCTAssertTrue(frames.isEmpty)
            XCTAssertFalse(scanner.isAtMessageBoundary)
            XCTAssertFalse(decoder.isAtMessageBoundary)
            XCTAssertThrowsError(try decoder.finish()) { XCTAssertEqual(($0 as? GRPCFrameError)?.kind, .truncated) }
        }
    }

    func testLargestLengthOverASmallerLimitIsRefused() {
        var scanner = GRPCFrameScanner(maxMessageSize: Int(UInt32.max) - 1)
        XCTAssertThrowsError(try maxHeader.withUnsafeBytes { try scanner.scan($0) }) {
            XCTAssertEqual(($0 as? GRPCFrameError)?.kind, .messageTooLarge(size: Int(UInt32.max), limit: Int(UInt32.max) - 1))
        }
    }
}
