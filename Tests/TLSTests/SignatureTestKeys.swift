import Foundation

/// Keys and signatures for the signature tests, made with the `openssl` command in a fresh temporary directory:
/// the verifier is checked against OpenSSL's own signer, not against itself.
final class SignatureTestKeys: Sendable {
    let directory: String

    init() {
        directory = NSTemporaryDirectory() + "grpc-web-proxy-sig-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        run("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.pem")
        run("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out rsa1024.pem")
        run("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out p256.pem")
        run("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out p384.pem")
        run("openssl genpkey -algorithm ed25519 -out ed25519.pem")
    }

    /// The RSA modulus, big-endian.
    func rsaModulus(_ key: String = "rsa.pem") -> [UInt8] {
        let text = output("openssl rsa -in \(key) -noout -modulus").trimmingCharacters(in: .whitespacesAndNewlines)
        let hex = Array(text.dropFirst("Modulus=".count))
        return stride(from: 0, to: hex.count, by: 2).map { UInt8(String(hex[$0..<$0 + 2]), radix: 16)! }
    }

    /// The last `count` bytes of the SubjectPublicKeyInfo: the raw point (04 || x || y) or Ed25519 key.
    func rawPublicKey(_ key: String, count: Int) -> [UInt8] {
        run("openssl pkey -in \(key) -pubout -outform DER -out \(key).pub.der")
        return Array(read("\(key).pub.der").suffix(count))
    }

    /// OpenSSL's signature of `input` (DER for ECDSA, as OpenSSL makes it).
    func sign(_ input: [UInt8], key: String, options: String) -> [UInt8] {
        let name = "in-\(UUID().uuidString)"
        FileManager.default.createFile(atPath: path(name), contents: Data(input))
        if options == "ed25519" {
            run("openssl pkeyutl -sign -rawin -inkey \(key) -in \(name) -out \(name).sig")
        } else {
            run("openssl dgst \(options) -sign \(key) -out \(name).sig \(name)")
        }
        return read("\(name).sig")
    }

    func path(_ name: String) -> String { directory + "/" + name }

    private func read(_ name: String) -> [UInt8] { Array(FileManager.default.contents(atPath: path(name))!) }

    private func run(_ command: String) { _ = output(command) }

    private func output(_ command: String) -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "cd '\(directory)' && \(command)"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try! process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        precondition(process.terminationStatus == 0, "test key command failed: \(command)")
        return String(decoding: data, as: UTF8.self)
    }

    /// JOSE's r || s from OpenSSL's DER ECDSA-Sig-Value, each left-padded to `size`.
    static func joseSignature(fromDER der: [UInt8], size: Int) -> [UInt8] {
        var index = 2
        if der[1] & 0x80 != 0 { index = 2 + Int(der[1] & 0x7F) }
        var out: [UInt8] = []
        for _ in 0..<2 {
            precondition(der[index] == 0x02)
            let length = Int(der[index + 1])
            var value = Array(der[(index + 2)..<(index + 2 + length)]).drop { $0 == 0 }
            while value.count < size { value.insert(0, at: value.startIndex) }
            out += value
            index += 2 + length
        }
        return out
    }
}
