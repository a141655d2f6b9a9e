import GRPCWebCodec
import XCTest

/// Bit-by-bit reference encoder, deliberately written differently from the table-driven one under test.
func referenceBase64(_ bytes: [UInt8]) -> String {
    let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
    var bits: [Bool] = []
    for b in bytes { for i in (0..<8).reversed() { bits.append(b >> UInt8(i) & 1 == 1) } }
    while bits.count % 6 != 0 { bits.append(false) }
    var out = ""
    for g in stride(from: 0, to: bits.count, by: 6) {
        var v = 0
        for i in 0..<6 { v = v << 1 | (bits[g + i] ? 1 : 0) }
        out.append(alphabet[v])
    }
    while out.count % 4 != 0 { out.append("=") }
    return out
}

final class Base64Tests: XCTestCase {
    let rfc4648: [(String, String)] = [
        ("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy"),
    ]

    func testRFC4648Vectors() {
        for (plain, encoded) in rfc4648 {
            XCTAssertEqual(Base64.encode(Array(plain.utf8)), encoded)
            var out: [UInt8] = []
            Array(plain.utf8).withUnsafeBytes { Base64.encode($0, into: &out) }
            XCTAssertEqual(out, Array(encoded.utf8))
            XCTAssertEqual(Base64.decode(encoded), Array(plain.utf8), encoded)
        }
    }

    func testEncodeAppendsToExistingOutput() {
        var out: [UInt8] = Array("x:".utf8)
        [UInt8]([0xFB, 0xFF]).withUnsafeBytes { Base64.encode($0, into: &out) }
        XCTAssertEqual(String(decoding: out, as: UTF8.self), "x:+/8=")
    }

    func testAllByteValuesAndRandomLengthsMatchReference() {
        let all = (0...255).map { UInt8($0) }
        XCTAssertEqual(Base64.encode(all), referenceBase64(all))
        var rng = SeededRNG(seed: 1234)
        for n in 0..<200 {
            let data = randomBytes(n, &rng)
            let encoded = Base64.encode(data)
            XCTAssertEqual(encoded, referenceBase64(data), "length \(n)")
            XCTAssertEqual(encoded.utf8.count, Base64.encodedLength(n))
            XCTAssertEqual(Base64.decode(encoded), data, "length \(n)")
            // Unpadded form (what gRPC emits for -bin metadata) decodes too.
            let unpadded = String(encoded.reversed().drop(while: { $0 == "=" }).reversed())
            XCTAssertEqual(Base64.decode(unpadded), data, "unpadded length \(n)")
        }
    }

    func testEncodedLength() {
        XCTAssertEqual([0, 1, 2, 3, 4, 5, 6, 7].map(Base64.encodedLength), [0, 4, 4, 4, 8, 8, 8, 12])
    }

    func testMetadataDecodeRejectsInvalid() {
        for bad in ["Z", "Zm9vY", "Zg=", "Zm=v", "Z===", "====", "=Zg=", "Zg==Zg==", "Zm9v Zm9v", " Zm9v", "Zm9v\n",
                    "Zm9-", "Zm9_", "Zm9v\u{e9}", "Zm8==", "Zg=a", "Zm9vZ=", "Zm9vZg="] {
            XCTAssertNil(Base64.decode(bad), bad)
        }
    }

    func testMetadataDecodeIgnoresUnusedLowBits() {
        // "Zh==" carries non-zero bits after the single byte; lenient like most decoders.
        XCTAssertEqual(Base64.decode("Zh=="), [0x66])
        XCTAssertEqual(Base64.decode("Zh"), [0x66])
    }

    func testTextEncoderPiecesArePaddedAndConcatenatable() {
        var rng = SeededRNG(seed: 77)
        let data = randomBytes(1000, &rng)
        var wire: [UInt8] = []
        var at = 0
        while at < data.count {
            let n = min(Int.random(in: 1...40, using: &rng), data.count - at)
            let before = wire.count
            data[at..<(at + n)].withUnsafeBytes { GRPCWebTextEncoder.encodePiece($0, into: &wire) }
            XCTAssertEqual((wire.count - before) % 4, 0)
            XCTAssertEqual(wire.count - before, GRPCWebTextEncoder.encodedLength(n))
            at += n
        }
        var d = Base64StreamDecoder()
        var decoded: [UInt8] = []
        XCTAssertNoThrow(try wire.withUnsafeBytes { try d.decode($0, into: &decoded) })
        XCTAssertNoThrow(try d.finish())
        XCTAssertEqual(decoded, data)
    }

    func testTextEncoderEnvoyTrailerFrame() {
        // Envoy's text-mode trailer vector: base64 of the 37-byte frame, padded on its own.
        let frame: [UInt8] = [0x80, 0, 0, 0, 0x20] + Array("grpc-status:0\r\ngrpc-message:ok\r\n".utf8)
        var out: [UInt8] = []
        frame.withUnsafeBytes { GRPCWebTextEncoder.encodePiece($0, into: &out) }
        XCTAssertEqual(String(decoding: out, as: UTF8.self), "gAAAACBncnBjLXN0YXR1czowDQpncnBjLW1lc3NhZ2U6b2sNCg==")
    }
}
