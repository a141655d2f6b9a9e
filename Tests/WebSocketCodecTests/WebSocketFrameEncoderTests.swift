import XCTest
import WebSocketCodec

final class WebSocketFrameEncoderTests: XCTestCase {
    private func header(_ opcode: WebSocketOpcode, _ length: Int, fin: Bool = true) -> [UInt8] {
        var out: [UInt8] = []
        WebSocketFrameEncoder.writeFrameHeader(opcode: opcode, length: length, fin: fin, into: &out)
        return out
    }

    private func frame(_ opcode: WebSocketOpcode, _ payload: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        payload.withUnsafeBytes { WebSocketFrameEncoder.writeFrame(opcode: opcode, payload: $0, into: &out) }
        return out
    }

    func testRFCUnmaskedHello() {
        // RFC 6455 §5.7 "A single-frame unmasked text message".
        XCTAssertEqual(frame(.text, bytes("Hello")), [0x81, 0x05, 0x48, 0x65, 0x6C, 0x6C, 0x6F])
        // "Unmasked Ping request and masked Ping response": the unmasked ping.
        XCTAssertEqual(frame(.ping, bytes("Hello")), [0x89, 0x05, 0x48, 0x65, 0x6C, 0x6C, 0x6F])
    }

    func testRFCFragmentedHeaders() {
        XCTAssertEqual(header(.text, 3, fin: false), [0x01, 0x03])
        XCTAssertEqual(header(.continuation, 2), [0x80, 0x02])
    }

    func testLengthForms() {
        XCTAssertEqual(header(.binary, 0), [0x82, 0x00])
        XCTAssertEqual(header(.binary, 125), [0x82, 0x7D])
        XCTAssertEqual(header(.binary, 126), [0x82, 0x7E, 0x00, 0x7E])
        XCTAssertEqual(header(.binary, 256), [0x82, 0x7E, 0x01, 0x00])  // RFC §5.7 256-byte example
        XCTAssertEqual(header(.binary, 65535), [0x82, 0x7E, 0xFF, 0xFF])
        XCTAssertEqual(header(.binary, 65536), [0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0])  // RFC §5.7 64 KiB example
        XCTAssertEqual(header(.binary, 0x1_2345_6789), [0x82, 0x7F, 0, 0, 0, 1, 0x23, 0x45, 0x67, 0x89])
        XCTAssertEqual(header(.pong, 125, fin: true), [0x8A, 0x7D])
    }

    func testWriteFrameAppends() {
        var out: [UInt8] = [0xEE]
        [UInt8](repeating: 7, count: 300).withUnsafeBytes { WebSocketFrameEncoder.writeFrame(opcode: .binary, payload: $0, into: &out) }
        XCTAssertEqual(Array(out[0..<4]), [0xEE, 0x82, 0x7E, 0x01])
        XCTAssertEqual(out[4], 0x2C)
        XCTAssertEqual(out.count, 1 + 4 + 300)
        XCTAssertTrue(out[5...].allSatisfy { $0 == 7 })
    }

    func testWriteClose() {
        var out: [UInt8] = []
        WebSocketFrameEncoder.writeClose(code: 1000, reason: "request body closed", into: &out)
        XCTAssertEqual(out, [0x88, 21, 0x03, 0xE8] + bytes("request body closed"))
        out = []
        WebSocketFrameEncoder.writeClose(code: 1002, reason: "", into: &out)
        XCTAssertEqual(out, [0x88, 0x02, 0x03, 0xEA])
    }

    func testWriteCloseTruncatesToFit() {
        var out: [UInt8] = []
        WebSocketFrameEncoder.writeClose(code: 1011, reason: String(repeating: "x", count: 500), into: &out)
        XCTAssertEqual(out.count, 2 + 125)
        XCTAssertEqual(Array(out[0..<4]), [0x88, 0x7D, 0x03, 0xF3])
        XCTAssertEqual(Array(out[4...]), Array(repeating: UInt8(ascii: "x"), count: 123))

        // Two-byte characters: 123 bytes would cut the 62nd "é" in half, so 61 of them (122 bytes) are kept.
        out = []
        WebSocketFrameEncoder.writeClose(code: 1000, reason: String(repeating: "é", count: 70), into: &out)
        XCTAssertEqual(out[1], 2 + 122)
        XCTAssertEqual(String(decoding: out[4...], as: UTF8.self), String(repeating: "é", count: 61))
        // Four-byte characters after one ASCII byte: 1 + 30 * 4 = 121 bytes fit, the 31st would not.
        out = []
        WebSocketFrameEncoder.writeClose(code: 1000, reason: "a" + String(repeating: "𝄞", count: 40), into: &out)
        XCTAssertEqual(out[1], 2 + 121)
        // Exactly 123 bytes is kept whole.
        out = []
        WebSocketFrameEncoder.writeClose(code: 1000, reason: String(repeating: "z", count: 123), into: &out)
        XCTAssertEqual(out[1], 125)
    }

    /// Server frames, masked the way a client would send them, decode back to the original: ties the encoder and
    /// decoder length forms together.
    func testRoundTripThroughDecoder() {
        for n in [0, 1, 125, 126, 127, 65535, 65536, 70000] {
            let payload = (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 31) }
            let encoded = frame(.binary, payload)
            let headerLength = n < 126 ? 2 : n <= 0xFFFF ? 4 : 10
            var client = Array(encoded[0..<headerLength])
            client[1] |= 0x80
            client += ClientFrame.defaultKey
            client += payload.enumerated().map { $0.element ^ ClientFrame.defaultKey[$0.offset % 4] }
            XCTAssertEqual(client, ClientFrame.binary(payload))
            var decoder = WebSocketFrameDecoder()
            XCTAssertEqual(decodeOnce(&decoder, client).events, [.binary(payload)], "length \(n)")
        }
    }
}
