import XCTest
import WebSocketCodec

/// Valid client traffic: every case is also run through every chunking by `assertDecodes`.
final class WebSocketFrameDecoderTests: XCTestCase {
    // RFC 6455 §5.7: "A single-frame masked text message".
    func testRFCMaskedHello() {
        assertDecodes([0x81, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58], [.text(bytes("Hello"))])
    }

    // RFC 6455 §5.7: "Unmasked Pong response" but masked, as the RFC shows it, and a masked ping "Hello".
    func testRFCMaskedPongAndPing() {
        assertDecodes([0x8A, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58], [.pong(bytes("Hello"))])
        assertDecodes([0x89, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58], [.ping(bytes("Hello"))])
    }

    // RFC 6455 §5.7: the fragmented "Hel" + "lo" message, masked as a client must send it.
    func testRFCFragmentedHello() {
        let first: [UInt8] = [0x01, 0x83, 0x37, 0xFA, 0x21, 0x3D, 0x48 ^ 0x37, 0x65 ^ 0xFA, 0x6C ^ 0x21]
        let second: [UInt8] = [0x80, 0x82, 0x37, 0xFA, 0x21, 0x3D, 0x6C ^ 0x37, 0x6F ^ 0xFA]
        XCTAssertEqual(first, ClientFrame.text("Hel", fin: false))
        assertDecodes(first + second, [.text(bytes("Hello"))])
    }

    // RFC 6455 §5.7: 256 bytes binary in a single masked frame uses the 16-bit length form.
    func test256ByteBinary() {
        let payload = (0..<256).map { UInt8($0) }
        let frame = ClientFrame.binary(payload)
        XCTAssertEqual(Array(frame[0..<4]), [0x82, 0xFE, 0x01, 0x00])
        assertDecodes(frame, [.binary(payload)])
    }

    // RFC 6455 §5.7: 64 KiB binary uses the 64-bit length form.
    func test64KiBBinary() {
        var rng = SplitMix64(seed: 64)
        let payload = (0..<65536).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let frame = ClientFrame.make(0x2, payload, key: [0x01, 0x02, 0x03, 0x04])
        XCTAssertEqual(Array(frame[0..<10]), [0x82, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0])
        assertDecodes(frame, [.binary(payload)])
    }

    func testLengthBoundaries() {
        for n in [0, 1, 125, 126, 127, 65535, 65536] {
            let payload = (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 7) }
            var decoder = WebSocketFrameDecoder()
            XCTAssertEqual(decodeOnce(&decoder, ClientFrame.binary(payload)), DecodeOutcome(events: [.binary(payload)], error: nil), "length \(n)")
        }
        assertDecodes(ClientFrame.binary(Array(repeating: 0xAB, count: 126)), [.binary(Array(repeating: 0xAB, count: 126))])
    }

    func testNonMinimalLengthEncodingsAccepted() {
        let payload = bytes("Hello")
        assertDecodes(ClientFrame.make(0x2, payload, lengthForm: .medium), [.binary(payload)])
        assertDecodes(ClientFrame.make(0x2, payload, lengthForm: .long), [.binary(payload)])
    }

    func testFragmentationWithInterleavedControlFrames() {
        let input = ClientFrame.text("frag", fin: false)
            + ClientFrame.ping(bytes("p1"))
            + ClientFrame.continuation(bytes("ment"), fin: false)
            + ClientFrame.pong([])
            + ClientFrame.ping([])
            + ClientFrame.continuation(bytes("ed"), fin: true)
            + ClientFrame.binary([1, 2, 3], fin: false)
            + ClientFrame.continuation([], fin: false)
            + ClientFrame.ping([9])
            + ClientFrame.continuation([4], fin: true)
        assertDecodes(input, [.ping(bytes("p1")), .pong([]), .ping([]), .text(bytes("fragmented")),
                              .ping([9]), .binary([1, 2, 3, 4])])
    }

    func testManyMessagesInOneBuffer() {
        var input: [UInt8] = []
        var expected: [WebSocketEvent] = []
        for i in 0..<20 {
            let payload = Array(repeating: UInt8(i), count: i * 13)
            input += ClientFrame.make(0x2, payload, key: [UInt8(i), 0x55, 0xAA, UInt8(255 - i)])
            expected.append(.binary(payload))
        }
        assertDecodes(input, expected)
    }

    func testEmptyFrames() {
        let input = ClientFrame.binary([]) + ClientFrame.text("") + ClientFrame.text("", fin: false)
            + ClientFrame.continuation([], fin: true) + ClientFrame.ping([]) + ClientFrame.make(0x8, [])
        assertDecodes(input, [.binary([]), .text([]), .text([]), .ping([]), .close(code: nil, reason: "")])
    }

    func testUTF8SplitAcrossFragmentsIsValid() {
        let text = Array("héllo € 𝄞 ok".utf8)
        // Cut every multi-byte character in the middle across three fragments.
        let a = Array(text[0..<2]), b = Array(text[2..<9]), c = Array(text[9...])
        let input = ClientFrame.make(0x1, a, fin: false) + ClientFrame.continuation(b, fin: false) + ClientFrame.continuation(c)
        assertDecodes(input, [.text(text)])
    }

    func testUTF8BoundaryCodePoints() {
        // U+0000, U+007F, U+0080, U+07FF, U+0800, U+D7FF, U+E000, U+FFFF, U+10000, U+10FFFF.
        let text: [UInt8] = [0x00, 0x7F, 0xC2, 0x80, 0xDF, 0xBF, 0xE0, 0xA0, 0x80, 0xED, 0x9F, 0xBF,
                             0xEE, 0x80, 0x80, 0xEF, 0xBF, 0xBF, 0xF0, 0x90, 0x80, 0x80, 0xF4, 0x8F, 0xBF, 0xBF]
        assertDecodes(ClientFrame.make(0x1, text), [.text(text)])
        // Long ASCII run (exercises the 8-byte fast path) followed by a multi-byte character.
        let long = Array(String(repeating: "abcdefgh", count: 40).utf8) + [0xE2, 0x82, 0xAC]
        assertDecodes(ClientFrame.make(0x1, long), [.text(long)])
    }

    func testBinaryIsNotUTF8Checked() {
        assertDecodes(ClientFrame.binary([0xFF, 0xC0, 0x80]), [.binary([0xFF, 0xC0, 0x80])])
    }

    func testCloseFrames() {
        assertDecodes(ClientFrame.close(1000, bytes("bye")), [.close(code: 1000, reason: "bye")])
        assertDecodes(ClientFrame.close(1001), [.close(code: 1001, reason: "")])
        assertDecodes(ClientFrame.close(4999, Array("réason".utf8)), [.close(code: 4999, reason: "réason")])
        for code: UInt16 in [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999] {
            assertDecodes(ClientFrame.close(code), [.close(code: code, reason: "")])
        }
        // 123-byte reason: the largest that fits.
        let reason = String(repeating: "r", count: 123)
        assertDecodes(ClientFrame.close(1000, bytes(reason)), [.close(code: 1000, reason: reason)])
    }

    func testInputAfterCloseIsIgnored() {
        var decoder = WebSocketFrameDecoder()
        // Garbage (an unmasked frame, which would otherwise be an error) after the close frame is discarded.
        let input = ClientFrame.binary([1]) + ClientFrame.close(1000) + [0x81, 0x05] + bytes("Hello") + ClientFrame.binary([2])
        XCTAssertEqual(decodeOnce(&decoder, input).events, [.binary([1]), .close(code: 1000, reason: "")])
        XCTAssertTrue(decoder.isClosed)
        XCTAssertEqual(decodeOnce(&decoder, ClientFrame.binary([3])), DecodeOutcome(events: [], error: nil))
        assertDecodes(input, [.binary([1]), .close(code: 1000, reason: "")])
    }

    func testIsInsideMessage() {
        var decoder = WebSocketFrameDecoder()
        XCTAssertFalse(decoder.isInsideMessage)
        _ = decodeOnce(&decoder, ClientFrame.binary([1], fin: false))
        XCTAssertTrue(decoder.isInsideMessage)
        _ = decodeOnce(&decoder, ClientFrame.continuation([2]))
        XCTAssertFalse(decoder.isInsideMessage)
        XCTAssertFalse(decoder.isClosed)
    }

    func testEventsAreAppendedNotReplaced() {
        var decoder = WebSocketFrameDecoder()
        var events: [WebSocketEvent] = [.pong([7])]
        let frame = ClientFrame.text("x")
        XCTAssertNoThrow(try frame.withUnsafeBytes { try decoder.decode($0, into: &events) })
        XCTAssertEqual(events, [.pong([7]), .text(bytes("x"))])
    }

    func testMaskKeysAndPhases() {
        // Payload lengths that leave every masking phase at chunk boundaries, with keys that have every byte set.
        var rng = SplitMix64(seed: 7)
        for n in [1, 2, 3, 4, 5, 7, 8, 9, 31, 32, 33, 63, 100] {
            let payload = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let key = (0..<4).map { _ in UInt8.random(in: 1...255, using: &rng) }
            assertDecodes(ClientFrame.make(0x2, payload, key: key), [.binary(payload)])
        }
    }
}
