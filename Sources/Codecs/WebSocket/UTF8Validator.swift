/// Incremental UTF-8 validator (RFC 3629, the well-formed table of Unicode §3.9). Fed the fragments of a text
/// message as they arrive, it lets the decoder fail fast on the first bad byte (RFC 6455 §8.1) without buffering
/// anything; `isComplete` then says whether the message stopped mid-sequence.
struct UTF8Validator: Sendable {
    /// Continuation bytes still expected for the current sequence.
    private var pending = 0
    /// Allowed range for the next continuation byte; narrower than 80...BF right after E0, ED, F0 and F4 to rule
    /// out overlong forms, surrogates and code points above U+10FFFF.
    private var lower: UInt8 = 0x80
    private var upper: UInt8 = 0xBF

    /// True when no multi-byte sequence is open.
    var isComplete: Bool { pending == 0 }

    /// Returns false at the first byte that cannot belong to well-formed UTF-8.
    mutating func feed(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        let count = bytes.count
        var i = 0
        while i < count {
            if pending == 0 {
                // ASCII is the common case for metadata and JSON: skip it 8 bytes at a time.
                while i &+ 8 <= count,
                      base.loadUnaligned(fromByteOffset: i, as: UInt64.self) & 0x8080_8080_8080_8080 == 0 {
                    i &+= 8
                }
                if i == count { break }
                let byte = base.load(fromByteOffset: i, as: UInt8.self)
                i &+= 1
                if byte < 0x80 { continue }
                if !start(byte) { return false }
            } else {
                let byte = base.load(fromByteOffset: i, as: UInt8.self)
                i &+= 1
                guard byte >= lower && byte <= upper else { return false }
                pending &-= 1
                lower = 0x80
                upper = 0xBF
            }
        }
        return true
    }

    /// Opens a multi-byte sequence for lead byte `byte` (>= 0x80); false if it cannot lead one.
    private mutating func start(_ byte: UInt8) -> Bool {
        switch byte {
        case 0xC2...0xDF: pending = 1
        case 0xE0: pending = 2; lower = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: pending = 2
        case 0xED: pending = 2; upper = 0x9F
        case 0xF0: pending = 3; lower = 0x90
        case 0xF1...0xF3: pending = 3
        case 0xF4: pending = 3; upper = 0x8F
        default: return false
        }
        return true
    }

    /// Whole-buffer check, for close reasons and metadata.
    static func isValid(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var validator = UTF8Validator()
        return validator.feed(bytes) && validator.isComplete
    }
}
