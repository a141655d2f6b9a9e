internal import COpenSSL
import Glibc

/// Certificates and keys read from PEM files. The file is read here (not by OpenSSL's file functions) so a missing
/// or unreadable file is reported with the system's reason instead of an OpenSSL "system library" code.
enum PEMFile {
    /// Largest file accepted: a CA bundle of a few hundred certificates is well under 1 MiB.
    static let maxBytes = 8 << 20

    static func read(_ path: String, input: TLSSetupError.Input) throws(TLSSetupError) -> [UInt8] {
        guard let file = fopen(path, "rb") else {
            throw TLSSetupError(input, "cannot read \(path): \(String(cString: strerror(errno)))")
        }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = fread(&chunk, 1, chunk.count, file)
            if n > 0 { bytes.append(contentsOf: chunk[0..<n]) }
            if bytes.count > maxBytes { throw TLSSetupError(input, "\(path) is larger than \(maxBytes >> 20) MiB") }
            if n < chunk.count {
                if ferror(file) != 0 { throw TLSSetupError(input, "cannot read \(path): \(String(cString: strerror(errno)))") }
                break
            }
        }
        if bytes.isEmpty { throw TLSSetupError(input, "\(path) is empty") }
        return bytes
    }

    /// Every certificate in a PEM file, in order (leaf first for a chain). Caller frees with `X509_free`.
    static func certificates(_ path: String, input: TLSSetupError.Input) throws(TLSSetupError) -> [OpaquePointer] {
        let bytes = try read(path, input: input)
        OpenSSLErrorQueue.clear()
        let certs: [OpaquePointer] = bytes.withUnsafeBytes { raw in
            let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count))
            defer { BIO_free(bio) }
            var certs: [OpaquePointer] = []
            while let x = PEM_read_bio_X509(bio, nil, nil, nil) { certs.append(x) }
            return certs
        }
        // Reading stops with a "no start line" error at the end of the file; that one is expected.
        OpenSSLErrorQueue.clear()
        if certs.isEmpty { throw TLSSetupError(input, "no PEM certificate found in \(path)") }
        return certs
    }

    /// The private key in a PEM file. Caller frees with `EVP_PKEY_free`.
    static func privateKey(_ path: String, input: TLSSetupError.Input) throws(TLSSetupError) -> OpaquePointer {
        let bytes = try read(path, input: input)
        OpenSSLErrorQueue.clear()
        let key: OpaquePointer? = bytes.withUnsafeBytes { raw in
            let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count))
            defer { BIO_free(bio) }
            return PEM_read_bio_PrivateKey(bio, nil, nil, nil)
        }
        guard let key else {
            throw TLSSetupError(input, "no PEM private key in \(path): \(OpenSSLErrorQueue.message(or: "unreadable"))")
        }
        return key
    }
}
