import XCTest
import WebSocketCodec

/// Issue #13: limits near Int.max (`websocket.max_frame_size: 9223372036854775807`) met 64-bit frame lengths and the
/// size check `message.count + frameLength > maxMessageSize` overflowed, trapping the whole process on the first
/// large frame. Every check must compare without overflowing and refuse with 1009 instead.
final class WebSocketLimitOverflowTests: XCTestCase {
    /// A masked frame header announcing `length` with the 64-bit length form; the payload is not sent.
    private func header64(opcode: UInt8, fin: Bool, length: UInt64) -> [UInt8] {
        var out: [UInt8] = [(fin ? 0x80 : 0) | opcode, 0x80 | 127]
        for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: length >> UInt64(shift))) }
        return out + ClientFrame.defaultKey
    }

    private let nearMax: [Int] = [.max, .max - 1, .max - 3, .max / 2 + 1]

    func testContinuationNearIntMaxAfterAFragmentIsRefusedNotTrapped() {
        for limit in nearMax {
            let limits = WebSocketLimits(maxFrameSize: limit, maxMessageSize: limit)
            for length in [UInt64(Int.max), UInt64(limit), UInt64(limit) - 2] {
                let input = ClientFrame.binary([1, 2, 3], fin: false) + header64(opcode: 0x0, fin: true, length: length)
                assertFails(input, code: 1009, limits: limits)
            }
        }
    }

    func testFirstFrameAtTheLimitIsAcceptedAndWaitsForItsPayload() {
        for limit in nearMax {
            var decoder = WebSocketFrameDecoder(limits: WebSocketLimits(maxFrameSize: limit, maxMessageSize: limit))
            let outcome = decodeOnce(&decoder, header64(opcode: 0x2, fin: false, length: UInt64(limit)) + [9, 9, 9, 9, 9])
            XCTAssertEqual(outcome, DecodeOutcome(events: [], error: nil), "limit \(limit)")
            XCTAssertTrue(decoder.isInsideMessage)
        }
    }

    func testFrameLimitNearIntMaxWithSmallMessageLimit() {
        // The frame passes its own limit; the message limit (sum of fragments) must still hold.
        let limits = WebSocketLimits(maxFrameSize: .max, maxMessageSize: 10)
        assertFails(ClientFrame.binary([1, 2, 3], fin: false) + header64(opcode: 0x0, fin: true, length: UInt64(Int.max)),
                    code: 1009, limits: limits)
        assertFails(ClientFrame.binary(Array(repeating: 7, count: 10), fin: false) + ClientFrame.continuation([1]),
                    code: 1009, limits: limits)
        assertDecodes(ClientFrame.binary(Array(repeating: 7, count: 9), fin: false) + ClientFrame.continuation([1]),
                      [.binary(Array(repeating: 7, count: 9) + [1])], limits: limits)
    }

    func testHighBitLengthIsAProtocolErrorWhateverTheLimits() {
        let limits = WebSocketLimits(maxFrameSize: .max, maxMessageSize: .max)
        assertFails(header64(opcode: 0x2, fin: true, length: UInt64.max), code: 1002, limits: limits)
        assertFails(ClientFrame.binary([1], fin: false) + header64(opcode: 0x0, fin: true, length: 1 << 63),
                    code: 1002, limits: limits)
    }
}

/// The fuzz reproducer of issue #13 as raw bytes (Fuzz/corpus/FuzzWebSocketFrames, control bytes removed): a
/// masked 3-byte binary fragment, then a continuation header announcing 2^63-1 bytes. It trapped the process.
final class WebSocketFuzzRegressionTests: XCTestCase {
    func testIssue13Reproducer() {
        let bytes: [UInt8] = [
            0x02, 0x83, 0x11, 0x22, 0x33, 0x44, 0x70, 0x40, 0x50,                          // fragment "abc"
            0x80, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, // continuation, 2^63-1
        ]
        assertFails(bytes, code: 1009, limits: WebSocketLimits(maxFrameSize: .max, maxMessageSize: .max))
    }
}
