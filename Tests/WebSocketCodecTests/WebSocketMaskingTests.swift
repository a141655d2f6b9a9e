import XCTest
import WebSocketCodec

final class WebSocketMaskingTests: XCTestCase {
    /// Byte-at-a-time reference straight from RFC 6455 §5.3.
    private func reference(_ data: [UInt8], key: [UInt8], offset: Int) -> [UInt8] {
        data.enumerated().map { $0.element ^ key[($0.offset + offset) % 4] }
    }

    func testRFCHelloVector() {
        var payload: [UInt8] = [0x7F, 0x9F, 0x4D, 0x51, 0x58]
        payload.withUnsafeMutableBytes { WebSocketMasking.unmask($0, key: 0x37FA_213D, offset: 0) }
        XCTAssertEqual(payload, bytes("Hello"))
        payload.withUnsafeMutableBytes { WebSocketMasking.unmask($0, key: [0x37, 0xFA, 0x21, 0x3D], offset: 0) }
        XCTAssertEqual(payload, [0x7F, 0x9F, 0x4D, 0x51, 0x58])
    }

    func testKeyValueIsWireOrderBigEndian() {
        XCTAssertEqual(WebSocketMasking.keyValue(0x37, 0xFA, 0x21, 0x3D), 0x37FA_213D)
    }

    func testMatchesReferenceForEveryAlignmentOffsetAndLength() {
        var rng = SplitMix64(seed: 0xA11)
        let key: [UInt8] = [0x9C, 0x01, 0xE7, 0x5A]
        let keyValue = WebSocketMasking.keyValue(key[0], key[1], key[2], key[3])
        // A backing buffer larger than any case, so `start` moves the data across every 8-byte alignment.
        let backing = (0..<1200).map { _ in UInt8.random(in: 0...255, using: &rng) }
        for start in 0..<16 {
            for length in Array(0...80) + [255, 256, 257, 1000] {
                for offset in 0..<8 {
                    let original = Array(backing[start ..< start + length])
                    var buffer = backing
                    buffer.withUnsafeMutableBytes {
                        WebSocketMasking.unmask(UnsafeMutableRawBufferPointer(rebasing: $0[start ..< start + length]), key: keyValue, offset: offset)
                    }
                    XCTAssertEqual(Array(buffer[start ..< start + length]), reference(original, key: key, offset: offset),
                                   "start \(start) length \(length) offset \(offset)")
                    // Bytes outside the range are untouched.
                    XCTAssertEqual(Array(buffer[..<start]), Array(backing[..<start]))
                    XCTAssertEqual(Array(buffer[(start + length)...]), Array(backing[(start + length)...]))
                }
            }
        }
    }

    func testPiecewiseUnmaskingEqualsWhole() {
        var rng = SplitMix64(seed: 99)
        let data = (0..<3000).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let key: [UInt8] = [1, 2, 3, 4]
        let expected = reference(data, key: key, offset: 0)
        for _ in 0..<50 {
            var buffer = data
            var position = 0
            while position < buffer.count {
                let size = min(buffer.count - position, Int.random(in: 1...67, using: &rng))
                let from = position
                buffer.withUnsafeMutableBytes {
                    WebSocketMasking.unmask(UnsafeMutableRawBufferPointer(rebasing: $0[from ..< from + size]), key: key, offset: from)
                }
                position += size
            }
            XCTAssertEqual(buffer, expected)
        }
    }

    func testMaskingTwiceIsIdentity() {
        var data = (0..<517).map { UInt8(truncatingIfNeeded: $0) }
        let original = data
        data.withUnsafeMutableBytes { WebSocketMasking.unmask($0, key: 0xDEAD_BEEF, offset: 3) }
        XCTAssertNotEqual(data, original)
        data.withUnsafeMutableBytes { WebSocketMasking.unmask($0, key: 0xDEAD_BEEF, offset: 3) }
        XCTAssertEqual(data, original)
    }

    func testEmptyBuffer() {
        WebSocketMasking.unmask(UnsafeMutableRawBufferPointer(start: nil, count: 0), key: 1, offset: 0)
    }
}
