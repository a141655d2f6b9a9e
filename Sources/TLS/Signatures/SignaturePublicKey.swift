internal import COpenSSL

/// A public key ready to verify signatures: built once when a key set loads (OpenSSL's parsing and checks cost
/// far more than a verification), then only read. OpenSSL 3 allows one EVP_PKEY to be used by several threads at
/// once as long as nobody modifies it, which nobody does after `init`: hence `@unchecked Sendable`.
public final class SignaturePublicKey: @unchecked Sendable {  // safe: the EVP_PKEY is only read after init (see above)
    public let type: SignatureKeyType
    let key: OpaquePointer

    /// Shortest RSA modulus accepted (NIST SP 800-131A; RFC 7518 §3.3 requires 2048 bits).
    public static let minimumRSABits = 2048
    /// Longest RSA modulus accepted: 16384 bits keeps a hostile key set from costing seconds per verification.
    public static let maximumRSABits = 16384

    /// An RSA key from the JWK members `n` and `e` (big-endian unsigned integers).
    public init(rsaModulus n: [UInt8], exponent e: [UInt8]) throws(SignatureKeyError) {
        let modulus = n.drop { $0 == 0 }
        let bits = modulus.isEmpty ? 0 : (modulus.count - 1) * 8 + (8 - modulus.first!.leadingZeroBitCount)
        guard bits >= Self.minimumRSABits else {
            throw SignatureKeyError("RSA key of \(bits) bits is too short (at least \(Self.minimumRSABits))")
        }
        guard bits <= Self.maximumRSABits else {
            throw SignatureKeyError("RSA key of \(bits) bits is too long (at most \(Self.maximumRSABits))")
        }
        guard !e.isEmpty, e.count <= 8 else { throw SignatureKeyError("RSA exponent \"e\" is invalid") }
        type = .rsa
        key = try Self.build("RSA", numbers: [("n", Array(modulus)), ("e", e)])
    }

    /// An EC key on P-256 or P-384 from the JWK members `x` and `y` (each exactly the curve's field size).
    public init(curve: SignatureKeyType, x: [UInt8], y: [UInt8]) throws(SignatureKeyError) {
        let (group, size): (String, Int)
        switch curve {
        case .ecP256: (group, size) = ("prime256v1", 32)
        case .ecP384: (group, size) = ("secp384r1", 48)
        default: throw SignatureKeyError("not an EC curve")
        }
        guard x.count == size, y.count == size else {
            throw SignatureKeyError("EC coordinates \"x\" and \"y\" must be \(size) bytes each for this curve")
        }
        type = curve
        let point = [0x04] + x + y
        key = try Self.build("EC", strings: [("group", group)], octets: [("pub", point)])
    }

    /// An Ed25519 key from the JWK member `x` (32 bytes).
    public init(ed25519 x: [UInt8]) throws(SignatureKeyError) {
        guard x.count == 32 else { throw SignatureKeyError("Ed25519 key \"x\" must be 32 bytes") }
        ERR_clear_error()
        guard let pkey = x.withUnsafeBufferPointer({ EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nil, $0.baseAddress, $0.count) }) else {
            throw SignatureKeyError("invalid Ed25519 key: \(OpenSSLErrorQueue.message(or: "refused by OpenSSL"))")
        }
        type = .ed25519
        key = pkey
    }

    deinit { EVP_PKEY_free(key) }

    /// EVP_PKEY_fromdata with the given parameters (OpenSSL 3's provider-neutral way to make a key from its
    /// components). OpenSSL checks the values (an EC point must lie on the curve).
    private static func build(_ typeName: String, numbers: [(String, [UInt8])] = [], strings: [(String, String)] = [],
                              octets: [(String, [UInt8])] = []) throws(SignatureKeyError) -> OpaquePointer {
        ERR_clear_error()
        guard let builder = OSSL_PARAM_BLD_new() else { throw SignatureKeyError("out of memory") }
        defer { OSSL_PARAM_BLD_free(builder) }
        // The builder keeps pointers (names, BIGNUMs, string and octet values), not copies, until
        // OSSL_PARAM_BLD_to_param: everything pushed lives in memory freed only after that.
        var bigNumbers: [OpaquePointer] = []
        var buffers: [UnsafeMutableRawBufferPointer] = []
        defer {
            for number in bigNumbers { BN_free(number) }
            for buffer in buffers { buffer.deallocate() }
        }
        func stable(_ bytes: [UInt8]) -> UnsafeMutableRawBufferPointer {
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count + 1, alignment: 1)
            buffer.copyBytes(from: bytes + [0])
            buffers.append(buffer)
            return buffer
        }
        func cName(_ name: String) -> UnsafePointer<CChar> {
            UnsafePointer(stable(Array(name.utf8)).baseAddress!.assumingMemoryBound(to: CChar.self))
        }
        for (name, bytes) in numbers {
            guard let number = bytes.withUnsafeBufferPointer({ BN_bin2bn($0.baseAddress, Int32($0.count), nil) }) else {
                throw SignatureKeyError("out of memory")
            }
            bigNumbers.append(number)
            guard OSSL_PARAM_BLD_push_BN(builder, cName(name), number) == 1 else { throw SignatureKeyError("cannot set \"\(name)\"") }
        }
        for (name, value) in strings {
            let text = stable(Array(value.utf8)).baseAddress!.assumingMemoryBound(to: CChar.self)
            guard OSSL_PARAM_BLD_push_utf8_string(builder, cName(name), text, 0) == 1 else {
                throw SignatureKeyError("cannot set \"\(name)\"")
            }
        }
        for (name, bytes) in octets {
            let buffer = stable(bytes)
            guard OSSL_PARAM_BLD_push_octet_string(builder, cName(name), buffer.baseAddress, bytes.count) == 1 else {
                throw SignatureKeyError("cannot set \"\(name)\"")
            }
        }
        guard let params = OSSL_PARAM_BLD_to_param(builder) else { throw SignatureKeyError("out of memory") }
        defer { OSSL_PARAM_free(params) }
        guard let context = EVP_PKEY_CTX_new_from_name(nil, typeName, nil) else {
            throw SignatureKeyError("OpenSSL has no \(typeName) support")
        }
        defer { EVP_PKEY_CTX_free(context) }
        var pkey: OpaquePointer?
        guard EVP_PKEY_fromdata_init(context) == 1,
              EVP_PKEY_fromdata(context, &pkey, COpenSSL_EVP_PKEY_PUBLIC_KEY(), params) == 1, let pkey else {
            throw SignatureKeyError("invalid \(typeName) key: \(OpenSSLErrorQueue.message(or: "refused by OpenSSL"))")
        }
        return pkey
    }
}
