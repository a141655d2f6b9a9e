@testable import TLS
import XCTest

final class SignatureVerificationTests: XCTestCase {
    static let keys = SignatureTestKeys()
    var keys: SignatureTestKeys { Self.keys }

    let input = Array("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ0ZXN0In0".utf8)

    func rsaKey() throws -> SignaturePublicKey {
        try SignaturePublicKey(rsaModulus: keys.rsaModulus(), exponent: [1, 0, 1])
    }

    func ecKey(_ curve: SignatureKeyType) throws -> SignaturePublicKey {
        let size = curve == .ecP256 ? 32 : 48
        let point = keys.rawPublicKey(curve == .ecP256 ? "p256.pem" : "p384.pem", count: 1 + 2 * size)
        return try SignaturePublicKey(curve: curve, x: Array(point[1...size]), y: Array(point[(size + 1)...]))
    }

    func flipped(_ bytes: [UInt8], at index: Int) -> [UInt8] {
        var copy = bytes
        copy[index] ^= 0x01
        return copy
    }

    func testRSAPKCS1WithEachHash() throws {
        let key = try rsaKey()
        for (algorithm, digest) in [(SignatureAlgorithm.rs256, "-sha256"), (.rs384, "-sha384"), (.rs512, "-sha512")] {
            let signature = keys.sign(input, key: "rsa.pem", options: digest)
            XCTAssertTrue(key.verify(algorithm, signingInput: input, signature: signature), algorithm.rawValue)
            XCTAssertFalse(key.verify(algorithm, signingInput: flipped(input, at: 3), signature: signature))
            XCTAssertFalse(key.verify(algorithm, signingInput: input, signature: flipped(signature, at: 100)))
        }
        let rs256 = keys.sign(input, key: "rsa.pem", options: "-sha256")
        XCTAssertFalse(key.verify(.rs384, signingInput: input, signature: rs256), "the hash is part of the algorithm")
        XCTAssertFalse(key.verify(.ps256, signingInput: input, signature: rs256), "PKCS#1 v1.5 is not PSS")
    }

    func testRSAPSS() throws {
        let key = try rsaKey()
        let signature = keys.sign(input, key: "rsa.pem",
                                  options: "-sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest")
        XCTAssertTrue(key.verify(.ps256, signingInput: input, signature: signature))
        XCTAssertFalse(key.verify(.rs256, signingInput: input, signature: signature))
        XCTAssertFalse(key.verify(.ps256, signingInput: flipped(input, at: 0), signature: signature))
    }

    func testECDSAOnBothCurvesOverManySignatures() throws {
        // Several inputs, so r and s with a high bit (DER needs a leading zero) and without both occur.
        for (curve, algorithm, file, digest, size) in [(SignatureKeyType.ecP256, SignatureAlgorithm.es256, "p256.pem", "-sha256", 32),
                                                       (.ecP384, .es384, "p384.pem", "-sha384", 48)] {
            let key = try ecKey(curve)
            for n in 0..<6 {
                let message = input + Array("\(n)".utf8)
                let der = keys.sign(message, key: file, options: digest)
                let jose = SignatureTestKeys.joseSignature(fromDER: der, size: size)
                XCTAssertEqual(jose.count, 2 * size)
                XCTAssertTrue(key.verify(algorithm, signingInput: message, signature: jose), "\(algorithm) #\(n)")
                XCTAssertFalse(key.verify(algorithm, signingInput: message, signature: der), "DER is not the JOSE form")
                XCTAssertFalse(key.verify(algorithm, signingInput: message, signature: flipped(jose, at: size + 5)))
                XCTAssertFalse(key.verify(algorithm, signingInput: flipped(message, at: 1), signature: jose))
            }
        }
    }

    func testEd25519() throws {
        let key = try SignaturePublicKey(ed25519: keys.rawPublicKey("ed25519.pem", count: 32))
        let signature = keys.sign(input, key: "ed25519.pem", options: "ed25519")
        XCTAssertEqual(signature.count, 64)
        XCTAssertTrue(key.verify(.edDSA, signingInput: input, signature: signature))
        XCTAssertFalse(key.verify(.edDSA, signingInput: flipped(input, at: 2), signature: signature))
        XCTAssertFalse(key.verify(.edDSA, signingInput: input, signature: Array(signature.dropLast())))
    }

    func testAKeyOnlyVerifiesTheAlgorithmsOfItsType() throws {
        let rsa = try rsaKey()
        let ec = try ecKey(.ecP256)
        let rs256 = keys.sign(input, key: "rsa.pem", options: "-sha256")
        XCTAssertFalse(rsa.verify(.es256, signingInput: input, signature: rs256))
        XCTAssertFalse(ec.verify(.rs256, signingInput: input, signature: rs256))
        XCTAssertFalse(ec.verify(.es384, signingInput: input, signature: [UInt8](repeating: 1, count: 96)))
        XCTAssertEqual(SignatureKeyType.rsa.allowedAlgorithms, [.rs256, .rs384, .rs512, .ps256])
        XCTAssertNil(SignatureAlgorithm(rawValue: "HS256"))
        XCTAssertNil(SignatureAlgorithm(rawValue: "none"))
    }

    func testBadKeysAreRefusedWhenBuilt() throws {
        XCTAssertThrowsError(try SignaturePublicKey(rsaModulus: keys.rsaModulus("rsa1024.pem"), exponent: [1, 0, 1])) {
            XCTAssertTrue("\($0)".contains("1024 bits is too short"), "\($0)")
        }
        let point = keys.rawPublicKey("p256.pem", count: 65)
        XCTAssertThrowsError(try SignaturePublicKey(curve: .ecP256, x: Array(point[1...32]), y: Array(point[1...32]))) {
            XCTAssertTrue("\($0)".contains("invalid EC key"), "\($0)")
        }
        XCTAssertThrowsError(try SignaturePublicKey(curve: .ecP384, x: Array(point[1...32]), y: Array(point[33...])))
        XCTAssertThrowsError(try SignaturePublicKey(ed25519: [UInt8](repeating: 7, count: 31)))
    }

    func testDEREncodingOfJOSESignatures() {
        // r with its high bit set gets a leading zero; s with leading zeros loses them.
        let r = [UInt8](repeating: 0x80, count: 32)
        let s = [0, 0] + [UInt8](repeating: 0x01, count: 30)
        let der = ECDSASignatureDER.encode(r: r[...], s: s[...])
        XCTAssertEqual(Array(der.prefix(4)), [0x30, UInt8(2 + 33 + 2 + 30), 0x02, 33])
        XCTAssertEqual(der[4], 0x00)
        XCTAssertEqual(Array(der[(4 + 33)...(4 + 34)]), [0x02, 30])
        XCTAssertEqual(ECDSASignatureDER.encode(r: [0, 0][...], s: [1][...]), [0x30, 6, 0x02, 1, 0, 0x02, 1, 1])
    }
}
