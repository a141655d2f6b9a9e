/// `grpc-message` percent-encoding (PROTOCOLS.md §1.9, SPEC-H2 "Responses").
public enum GRPCMessageEncoding {
    /// Percent-encodes the UTF-8 bytes of `s`: 0x20-0x24 and 0x26-0x7E stay literal, every other byte (controls,
    /// '%', DEL, all bytes >= 0x80) becomes "%XX" with upper-case hex, which JS `decodeURIComponent` accepts.
    public static func percentEncode(_ s: String) -> String {
        var needs = false
        for b in s.utf8 where !isLiteral(b) { needs = true; break }
        if !needs { return s }
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count * 3)
        for b in s.utf8 {
            if isLiteral(b) {
                out.append(b)
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(hexDigit(b >> 4))
                out.append(hexDigit(b & 0xF))
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes "%XX" sequences (either hex case). Never fails: malformed %-sequences are left as they are, and
    /// decoded bytes that are not valid UTF-8 become U+FFFD.
    public static func percentDecode(_ s: String) -> String {
        var hasPercent = false
        for b in s.utf8 where b == UInt8(ascii: "%") { hasPercent = true; break }
        if !hasPercent { return s }
        let bytes = Array(s.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            if b == UInt8(ascii: "%"), i + 2 < bytes.count, let hi = hexValue(bytes[i + 1]), let lo = hexValue(bytes[i + 2]) {
                out.append(hi << 4 | lo)
                i += 3
            } else {
                out.append(b)
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    @inline(__always)
    private static func isLiteral(_ b: UInt8) -> Bool { b >= 0x20 && b <= 0x7E && b != 0x25 }

    @inline(__always)
    private static func hexDigit(_ v: UInt8) -> UInt8 { v < 10 ? 0x30 + v : 0x41 + v - 10 }

    @inline(__always)
    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x41...0x46: return c - 0x41 + 10
        case 0x61...0x66: return c - 0x61 + 10
        default: return nil
        }
    }
}
