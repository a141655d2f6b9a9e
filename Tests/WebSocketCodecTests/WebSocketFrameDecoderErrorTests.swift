import XCTest
import WebSocketCodec

/// Every way a client can fail the connection, with the close code it must get. `assertFails` runs each case
/// through every chunking too, so the error does not depend on where reads happen to cut the input.
final class WebSocketFrameDecoderErrorTests: XCTestCase {
    func testUnmaskedFrameIsProtocolError() {
        // RFC 6455 §5.7 "A single-frame unmasked text message": legal from a server, not from a client.
        assertFails([0x81, 0x05, 0x48, 0x65, 0x6C, 0x6C, 0x6F], code: 1002)
        assertFails(ClientFrame.binary([1]) + ClientFrame.make(0x9, [], masked: false), code: 1002, before: [.binary([1])])
    }

    func testReservedBits() {
        for rsv: UInt8 in [0x40, 0x20, 0x10, 0x70] {
            assertFails(ClientFrame.make(0x2, [1, 2], rsv: rsv), code: 1002)
            assertFails(ClientFrame.make(0x9, [], rsv: rsv), code: 1002)
        }
    }

    func testReservedOpcodes() {
        for opcode: UInt8 in [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF] {
            assertFails(ClientFrame.make(opcode, [0x41]), code: 1002)
        }
    }

    func testFragmentedControlFrame() {
        for opcode: UInt8 in [0x8, 0x9, 0xA] {
            assertFails(ClientFrame.make(opcode, [], fin: false), code: 1002)
        }
    }

    func testControlFrameOver125Bytes() {
        assertFails(ClientFrame.make(0x9, Array(repeating: 0, count: 126)), code: 1002)
        assertFails(ClientFrame.make(0xA, Array(repeating: 0, count: 200)), code: 1002)
        // 125 is fine.
        assertDecodes(ClientFrame.ping(Array(repeating: 1, count: 125)), [.ping(Array(repeating: 1, count: 125))])
    }

    func testCloseWithOneBytePayload() {
        assertFails(ClientFrame.make(0x8, [0x03]), code: 1002)
    }

    func testInvalidCloseCodes() {
        for code: UInt16 in [0, 1, 999, 1004, 1005, 1006, 1012, 1013, 1014, 1015, 1016, 1100, 2000, 2999, 5000, 65535] {
            assertFails(ClientFrame.close(code), code: 1002)
        }
    }

    func testCloseReasonMustBeUTF8() {
        assertFails(ClientFrame.close(1000, [0x62, 0xFF]), code: 1007)
        assertFails(ClientFrame.close(1000, [0xE2, 0x82]), code: 1007)  // truncated sequence
    }

    func test64BitLengthWithHighBitSet() {
        let frame: [UInt8] = [0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 1, 0x37, 0xFA, 0x21, 0x3D]
        assertFails(frame, code: 1002)
        // Even with limits that would otherwise admit anything.
        assertFails(frame, code: 1002, limits: WebSocketLimits(maxFrameSize: .max, maxMessageSize: .max))
    }

    func testContinuationWithoutMessage() {
        assertFails(ClientFrame.continuation([1]), code: 1002)
        // ... also after a message was completed.
        assertFails(ClientFrame.binary([1]) + ClientFrame.continuation([2]), code: 1002, before: [.binary([1])])
    }

    func testNewDataFrameWhileFragmentedMessageOpen() {
        assertFails(ClientFrame.text("a", fin: false) + ClientFrame.text("b"), code: 1002)
        assertFails(ClientFrame.binary([1], fin: false) + ClientFrame.ping([]) + ClientFrame.binary([2]), code: 1002, before: [.ping([])])
        assertFails(ClientFrame.binary([1], fin: false) + ClientFrame.text("x", fin: false), code: 1002)
    }

    func testInvalidUTF8Text() {
        let bad: [[UInt8]] = [
            [0xFF], [0x80], [0xC0, 0x80], [0xC1, 0xBF],      // stray continuation, overlong 2-byte
            [0xE0, 0x80, 0x80], [0xED, 0xA0, 0x80],          // overlong 3-byte, UTF-16 surrogate
            [0xF0, 0x80, 0x80, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80, 0x80, 0x80],  // overlong, > U+10FFFF
            [0x41, 0xE2, 0x82],                              // message ends mid-sequence
            [0xE2, 0x41, 0x82],                              // sequence interrupted
            Array("ok ".utf8) + [0xED, 0xBF, 0xBF],          // low surrogate
        ]
        for payload in bad {
            assertFails(ClientFrame.make(0x1, payload), code: 1007)
        }
        // Truncated sequence at the end of a fragmented message.
        assertFails(ClientFrame.make(0x1, [0x41], fin: false) + ClientFrame.continuation([0xF0, 0x9F]), code: 1007)
    }

    func testInvalidUTF8FailsFastBeforeTheMessageEnds() {
        var decoder = WebSocketFrameDecoder()
        let outcome = decodeOnce(&decoder, ClientFrame.make(0x1, [0x41, 0xFF], fin: false))
        XCTAssertEqual(outcome.error?.closeCode, 1007)
    }

    func testFrameSizeLimitExactAndOneOver() {
        let limits = WebSocketLimits(maxFrameSize: 300, maxMessageSize: 1000)
        let ok = Array(repeating: UInt8(1), count: 300)
        assertDecodes(ClientFrame.binary(ok), [.binary(ok)], limits: limits)
        assertFails(ClientFrame.binary(ok + [1]), code: 1009, limits: limits)
        // Small limits with the 7-bit length form too.
        let tiny = WebSocketLimits(maxFrameSize: 5, maxMessageSize: 5)
        assertDecodes(ClientFrame.text("Hello"), [.text(bytes("Hello"))], limits: tiny)
        assertFails(ClientFrame.text("Hello!"), code: 1009, limits: tiny)
    }

    func testFrameSizeLimitFailsOnTheHeaderAlone() {
        // Only the 14 header bytes of a frame announcing 2^40 bytes: refused before any payload is read.
        var decoder = WebSocketFrameDecoder()
        let header: [UInt8] = [0x82, 0xFF, 0, 0, 1, 0, 0, 0, 0, 0, 0x37, 0xFA, 0x21, 0x3D]
        XCTAssertEqual(decodeOnce(&decoder, header).error?.closeCode, 1009)
        assertFails(header, code: 1009)
        // And a 16-bit one over a small limit.
        assertFails([0x82, 0xFE, 0x01, 0x00, 1, 2, 3, 4], code: 1009, limits: WebSocketLimits(maxFrameSize: 255, maxMessageSize: 1000))
    }

    func testMessageSizeLimitExactAndOneOver() {
        let limits = WebSocketLimits(maxFrameSize: 100, maxMessageSize: 150)
        let a = Array(repeating: UInt8(2), count: 100), b = Array(repeating: UInt8(3), count: 50)
        assertDecodes(ClientFrame.binary(a, fin: false) + ClientFrame.continuation(b), [.binary(a + b)], limits: limits)
        assertFails(ClientFrame.binary(a, fin: false) + ClientFrame.continuation(b + [4]), code: 1009, limits: limits)
        // Control frames interleaved do not count towards the message.
        assertDecodes(ClientFrame.binary(a, fin: false) + ClientFrame.ping(Array(repeating: 9, count: 100)) + ClientFrame.continuation(b),
                      [.ping(Array(repeating: 9, count: 100)), .binary(a + b)], limits: limits)
        // The limit is per message: the next message starts from zero.
        assertDecodes(ClientFrame.binary(a + b.prefix(0)) + ClientFrame.binary(a), [.binary(a), .binary(a)], limits: limits)
    }

    func testMessageLimitFailsOnTheContinuationHeader() {
        let limits = WebSocketLimits(maxFrameSize: 100, maxMessageSize: 150)
        var decoder = WebSocketFrameDecoder(limits: limits)
        XCTAssertNil(decodeOnce(&decoder, ClientFrame.binary(Array(repeating: 0, count: 100), fin: false)).error)
        // Header of a 51-byte continuation only.
        XCTAssertEqual(decodeOnce(&decoder, [0x80, 0x80 | 51, 1, 2, 3, 4]).error?.closeCode, 1009)
    }

    func testDecoderIsUnusableAfterAnError() {
        var decoder = WebSocketFrameDecoder()
        let first = decodeOnce(&decoder, [0x81, 0x05] + bytes("Hello"))
        XCTAssertEqual(first.error?.closeCode, 1002)
        let second = decodeOnce(&decoder, ClientFrame.text("fine"))
        XCTAssertEqual(second, DecodeOutcome(events: [], error: first.error))
    }

    func testEarlyRejectionOnLeadBytes() {
        // An unmasked frame header is refused from its first two bytes, without its extended length.
        var decoder = WebSocketFrameDecoder()
        XCTAssertEqual(decodeOnce(&decoder, [0x82, 0x7F]).error?.closeCode, 1002)
        var decoder2 = WebSocketFrameDecoder()
        XCTAssertNil(decodeOnce(&decoder2, [0x82, 0xFF]).error)
    }
}
