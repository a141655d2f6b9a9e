/// Byte classes and comparisons from the HTTP grammar (RFC 9110 §5.6, RFC 9112), kept as
/// branch-light inline functions so the parser's hot loops never touch a global table.
enum ASCII {
    static let cr: UInt8 = 0x0D
    static let lf: UInt8 = 0x0A
    static let sp: UInt8 = 0x20
    static let htab: UInt8 = 0x09
    static let colon: UInt8 = 0x3A
    static let semicolon: UInt8 = 0x3B
    static let comma: UInt8 = 0x2C
    static let question: UInt8 = 0x3F

    /// tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~"
    ///       / DIGIT / ALPHA, as two 64-bit masks (bytes 0-63 and 64-127).
    @inline(__always)
    static func isTokenChar(_ b: UInt8) -> Bool {
        if b < 64 { return (0x03FF_6CFA_0000_0000 as UInt64) >> UInt64(b) & 1 == 1 }
        if b < 128 { return (0x57FF_FFFF_C7FF_FFFE as UInt64) >> UInt64(b - 64) & 1 == 1 }
        return false
    }

    /// field-vchar / SP / HTAB: VCHAR, obs-text (0x80-0xFF), space and tab. Everything else
    /// (NUL, CR, LF, other CTLs, DEL) is forbidden in a field value.
    @inline(__always)
    static func isFieldValueChar(_ b: UInt8) -> Bool {
        (b >= 0x20 && b != 0x7F) || b == htab
    }

    /// Bytes accepted in a request-target: visible ASCII only (no CTL, space, DEL or non-ASCII).
    @inline(__always)
    static func isTargetChar(_ b: UInt8) -> Bool {
        b > 0x20 && b < 0x7F
    }

    @inline(__always)
    static func isWhitespace(_ b: UInt8) -> Bool {
        b == sp || b == htab
    }

    /// Value of a hex digit, or nil.
    @inline(__always)
    static func hexValue(_ b: UInt8) -> Int? {
        switch b {
        case 0x30...0x39: return Int(b &- 0x30)
        case 0x41...0x46: return Int(b &- 0x41 &+ 10)
        case 0x61...0x66: return Int(b &- 0x61 &+ 10)
        default: return nil
        }
    }

    @inline(__always)
    static func lowercased(_ b: UInt8) -> UInt8 {
        (b >= 0x41 && b <= 0x5A) ? b | 0x20 : b
    }

    /// Case-insensitive comparison of `bytes[range]` with `lowercase`, which must be lower-case ASCII.
    @inline(__always)
    static func equalsLowercase(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, _ lowercase: StaticString) -> Bool {
        guard range.count == lowercase.utf8CodeUnitCount else { return false }
        let expected = lowercase.utf8Start
        var i = 0
        for index in range {
            if lowercased(bytes[index]) != expected[i] { return false }
            i += 1
        }
        return true
    }

    /// ASCII case-insensitive equality of two strings (HTTP names and tokens are ASCII).
    static func equalsIgnoringCase(_ a: String, _ b: String) -> Bool {
        let au = a.utf8, bu = b.utf8
        guard au.count == bu.count else { return false }
        for (x, y) in zip(au, bu) where x != y {
            if lowercased(x) != lowercased(y) { return false }
        }
        return true
    }

    /// True if the comma-separated list `value` has an element equal to `token`, ignoring ASCII
    /// case and the optional whitespace around each element (RFC 9110 §5.6.1).
    static func listContainsToken(_ value: String, _ token: String) -> Bool {
        var value = value
        return value.withUTF8 { bytes in
            let raw = UnsafeRawBufferPointer(bytes)
            var elements = ListElements(raw, 0..<raw.count)
            while let element = elements.next() {
                if equalsIgnoringCase(raw, element, token) { return true }
            }
            return false
        }
    }

    private static func equalsIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, _ other: String) -> Bool {
        let ou = other.utf8
        guard range.count == ou.count else { return false }
        for (index, y) in zip(range, ou) where lowercased(bytes[index]) != lowercased(y) {
            return false
        }
        return true
    }
}

/// Iterates the elements of a comma-separated field value (`#element` in RFC 9110 §5.6.1),
/// each trimmed of surrounding SP/HTAB. Empty elements are returned as empty ranges so that
/// callers can decide whether to ignore them (Transfer-Encoding) or reject them (Content-Length).
struct ListElements {
    private let bytes: UnsafeRawBufferPointer
    private var position: Int
    private let end: Int
    private var finished = false

    init(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) {
        self.bytes = bytes
        self.position = range.lowerBound
        self.end = range.upperBound
    }

    mutating func next() -> Range<Int>? {
        guard !finished else { return nil }
        var start = position
        var stop = start
        while stop < end && bytes[stop] != ASCII.comma { stop += 1 }
        if stop == end { finished = true } else { position = stop + 1 }
        var last = stop
        while start < last && ASCII.isWhitespace(bytes[start]) { start += 1 }
        while last > start && ASCII.isWhitespace(bytes[last - 1]) { last -= 1 }
        return start..<last
    }
}
