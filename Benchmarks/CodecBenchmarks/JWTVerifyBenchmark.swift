// Uncached JWT cost per algorithm (a benchmark, not a test): µs per signature verification with keys and
// signatures made by the `openssl` command (skipped, with a note, when it is missing), and µs to decode and parse a
// typical token's header and payload. A cached token costs one dictionary lookup instead (the bench's jwt rows).
import Glibc
import JSON
import TLS

private func jwtBenchNow() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

private func readAll(_ path: String) -> [UInt8] {
    guard let file = fopen(path, "rb") else { return [] }
    defer { fclose(file) }
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = fread(&chunk, 1, chunk.count, file)
        out += chunk[0..<n]
        if n < chunk.count { return out }
    }
}

private func hexBytes(_ hex: Substring) -> [UInt8] {
    let digits = Array(hex.utf8)
    return stride(from: 0, to: digits.count - 1, by: 2).compactMap { UInt8(String(decoding: digits[$0...$0 + 1], as: UTF8.self), radix: 16) }
}

/// DER ECDSA-Sig-Value -> JOSE r || s.
private func joseSignature(_ der: [UInt8], size: Int) -> [UInt8] {
    var at = 2
    var out: [UInt8] = []
    for _ in 0..<2 {
        let length = Int(der[at + 1])
        var value = Array(der[(at + 2)..<(at + 2 + length)].drop { $0 == 0 })
        while value.count < size { value.insert(0, at: 0) }
        out += value
        at += 2 + length
    }
    return out
}

/// Median µs per call of `body` over 7 timed runs of `count` calls (after one warm-up run).
private func microseconds(count: Int, _ body: () -> Bool) -> Double {
    var samples: [Double] = []
    var ok = true
    for run in 0..<8 {
        let t0 = jwtBenchNow()
        for _ in 0..<count { ok = body() && ok }
        if run > 0 { samples.append((jwtBenchNow() - t0) / Double(count) * 1e6) }
    }
    precondition(ok, "a verification failed")
    samples.sort()
    return samples[samples.count / 2]
}

func runJWTVerifyBenchmark() {
    var template = Array("/tmp/grpc-web-proxy-jwtbench-XXXXXX".utf8CString)
    guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else { return }
    let directory = String(cString: made)
    defer { _ = system("rm -rf '\(directory)'") }
    let input = Array("eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJpc3MiOiJodHRwczovL2lzc3Vlci5leGFtcGxlLyIsInN1YiI6InVzZXItNDIiLCJhdWQiOiJhcGkiLCJleHAiOjE5MDAwMDAwMDB9".utf8)
    let script = """
        cd '\(directory)' && printf '%s' '\(String(decoding: input, as: UTF8.self))' > in &&
        openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.pem &&
        openssl rsa -in rsa.pem -noout -modulus > rsa.modulus &&
        openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out p256.pem &&
        openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out p384.pem &&
        openssl genpkey -algorithm ed25519 -out ed.pem &&
        for k in p256 p384 ed; do openssl pkey -in $k.pem -pubout -outform DER -out $k.der; done &&
        openssl dgst -sha256 -sign rsa.pem -out rs256.sig in && openssl dgst -sha384 -sign rsa.pem -out rs384.sig in &&
        openssl dgst -sha512 -sign rsa.pem -out rs512.sig in &&
        openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest -sign rsa.pem -out ps256.sig in &&
        openssl dgst -sha256 -sign p256.pem -out es256.sig in && openssl dgst -sha384 -sign p384.pem -out es384.sig in &&
        openssl pkeyutl -sign -rawin -inkey ed.pem -in in -out eddsa.sig
        """
    guard system("( \(script) ) > /dev/null 2>&1") == 0 else {
        print("JWT verification: skipped (needs the openssl command)")
        return
    }
    let modulusText = String(decoding: readAll(directory + "/rsa.modulus"), as: UTF8.self)
    let modulus = hexBytes(modulusText.split(separator: "=").last?.prefix { $0.isHexDigit } ?? "")
    let p256 = Array(readAll(directory + "/p256.der").suffix(65))
    let p384 = Array(readAll(directory + "/p384.der").suffix(97))
    let rsa = try! SignaturePublicKey(rsaModulus: modulus, exponent: [1, 0, 1])
    let ec256 = try! SignaturePublicKey(curve: .ecP256, x: Array(p256[1...32]), y: Array(p256[33...]))
    let ec384 = try! SignaturePublicKey(curve: .ecP384, x: Array(p384[1...48]), y: Array(p384[49...]))
    let ed = try! SignaturePublicKey(ed25519: Array(readAll(directory + "/ed.der").suffix(32)))
    let cases: [(SignatureAlgorithm, SignaturePublicKey, [UInt8])] = [
        (.rs256, rsa, readAll(directory + "/rs256.sig")), (.rs384, rsa, readAll(directory + "/rs384.sig")),
        (.rs512, rsa, readAll(directory + "/rs512.sig")), (.ps256, rsa, readAll(directory + "/ps256.sig")),
        (.es256, ec256, joseSignature(readAll(directory + "/es256.sig"), size: 32)),
        (.es384, ec384, joseSignature(readAll(directory + "/es384.sig"), size: 48)),
        (.edDSA, ed, readAll(directory + "/eddsa.sig")),
    ]
    for (algorithm, key, signature) in cases {
        let us = microseconds(count: algorithm == .es384 ? 300 : 1000) {
            key.verify(algorithm, signingInput: input, signature: signature)
        }
        let name = "JWT signature verify \(algorithm.rawValue) (uncached)"
        print(name + String(repeating: " ", count: max(1, 50 - name.count)) + " \(fixed(us, 1)) µs per token")
    }
    let segments = input.split(separator: UInt8(ascii: "."))
    let parse = microseconds(count: 20_000) {
        guard let header = Base64URL.decode(segments[0]), let payload = Base64URL.decode(segments[1]),
              let h = try? JSONParser.parse(header), let p = try? JSONParser.parse(payload) else { return false }
        return h["alg"] != nil && p["exp"] != nil
    }
    let name = "JWT header+payload base64url+JSON"
    print(name + String(repeating: " ", count: max(1, 50 - name.count)) + " \(fixed(parse, 2)) µs per token")
}
