/// Precomputed lookup tables for the standard base64 alphabet (RFC 4648 §4), built once per process.
enum Base64Tables {
    static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    static let pad = UInt8(ascii: "=")

    /// 12 input bits -> 2 output characters as `first | second << 8`, so storing the value's `.littleEndian`
    /// writes them in order. Halves the number of lookups per output character compared with the alphabet.
    static let encodePairs: [UInt16] = {
        var t = [UInt16](repeating: 0, count: 4096)
        for i in 0..<4096 {
            t[i] = UInt16(alphabet[i >> 6]) | UInt16(alphabet[i & 63]) << 8
        }
        return t
    }()

    /// Marks "not an alphabet character" in `decode`: any bit at or above 24 survives OR-ing a quantum together.
    static let invalid: UInt32 = 0xFF00_0000

    /// Four 256-entry tables back to back: entry `k * 256 + c` is the 6-bit value of character `c` already shifted
    /// into position `k` of a 24-bit quantum, or `invalid`. A quantum decodes with four loads and three ORs, and
    /// one test on the result catches any bad (or '=') character.
    static let decode: [UInt32] = {
        var t = [UInt32](repeating: invalid, count: 1024)
        for (v, c) in alphabet.enumerated() {
            let v = UInt32(v)
            t[0 * 256 + Int(c)] = v << 18
            t[1 * 256 + Int(c)] = v << 12
            t[2 * 256 + Int(c)] = v << 6
            t[3 * 256 + Int(c)] = v
        }
        return t
    }()

    /// 6-bit value of `c`, or nil.
    @inline(__always)
    static func value(_ c: UInt8, _ table: UnsafeBufferPointer<UInt32>) -> UInt32? {
        let v = table[3 * 256 + Int(c)]
        return v == invalid ? nil : v
    }
}

/// Result of decoding one 4-character quantum that may carry padding.
enum QuantumResult {
    case bytes(UInt32, count: Int)   // 24-bit value, 1...3 meaningful leading bytes
    case invalidCharacter(index: Int) // index 0...3 of the offending character
}

/// Decodes a quantum with full validation: characters 0 and 1 from the alphabet, '=' allowed only as the last
/// one or two characters ("xx==", "xxx="). Unused low bits of a padded quantum are ignored, as most decoders do.
@inline(__always)
func decodeQuantumSlow(_ c0: UInt8, _ c1: UInt8, _ c2: UInt8, _ c3: UInt8,
                       _ table: UnsafeBufferPointer<UInt32>) -> QuantumResult {
    guard let v0 = Base64Tables.value(c0, table) else { return .invalidCharacter(index: 0) }
    guard let v1 = Base64Tables.value(c1, table) else { return .invalidCharacter(index: 1) }
    let pad = Base64Tables.pad
    if c2 == pad {
        guard c3 == pad else { return .invalidCharacter(index: 3) }
        return .bytes(v0 << 18 | v1 << 12, count: 1)
    }
    guard let v2 = Base64Tables.value(c2, table) else { return .invalidCharacter(index: 2) }
    if c3 == pad { return .bytes(v0 << 18 | v1 << 12 | v2 << 6, count: 2) }
    guard let v3 = Base64Tables.value(c3, table) else { return .invalidCharacter(index: 3) }
    return .bytes(v0 << 18 | v1 << 12 | v2 << 6 | v3, count: 3)
}

/// Grows `out` by `count` bytes and lets `body` fill them; `body` returns how many it actually wrote and the rest
/// is cut off again. Zero-filling first is a memset, far cheaper than the per-byte work that follows.
@inline(__always)
func appendBytes(_ out: inout [UInt8], upTo count: Int,
                 _ body: (UnsafeMutablePointer<UInt8>) -> Int) {
    if count == 0 { return }
    let start = out.count
    out.append(contentsOf: repeatElement(0, count: count))
    let written = out.withUnsafeMutableBufferPointer { body($0.baseAddress! + start) }
    if written < count { out.removeLast(count - written) }
}
