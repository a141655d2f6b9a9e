/// Reads and writes durations as the config spells them: `250ms`, `30s`, `1.5s`, `5m`, `1h`,
/// `100us`, `10ns`, sums such as `1m30s`, and a bare `0`. A bare non-zero number is rejected
/// because its unit would be a guess.
enum DurationSyntax {
    enum Failure: Error {
        case invalid, negative, tooLarge
    }

    static func parse(_ text: String) throws(Failure) -> Duration {
        let bytes = Array(text.utf8)
        if bytes.first == UInt8(ascii: "-") { throw .negative }
        if bytes == [UInt8(ascii: "0")] { return .zero }
        guard !bytes.isEmpty else { throw .invalid }
        // Int128 keeps `fraction × unit` exact (no binary floating point: 0.3s must be 300ms).
        var total: Int128 = 0
        var i = 0
        while i < bytes.count {
            var whole: Int128 = 0
            var digits = 0
            while i < bytes.count, let digit = digitValue(bytes[i]) {
                whole = whole * 10 + Int128(digit)
                digits += 1
                i += 1
                if whole > Int128(Int64.max) { throw .tooLarge }
            }
            var fraction: Int128 = 0
            var scale: Int128 = 1
            if i < bytes.count && bytes[i] == UInt8(ascii: ".") {
                i += 1
                var fractionDigits = 0
                while i < bytes.count, let digit = digitValue(bytes[i]) {
                    // Digits past nanosecond precision of the largest unit cannot matter.
                    if fractionDigits < 18 {
                        fraction = fraction * 10 + Int128(digit)
                        scale *= 10
                    }
                    fractionDigits += 1
                    i += 1
                }
                if fractionDigits == 0 { throw .invalid }
            }
            if digits == 0 { throw .invalid }
            let unitStart = i
            while i < bytes.count, digitValue(bytes[i]) == nil, bytes[i] != UInt8(ascii: ".") { i += 1 }
            let unit = String(decoding: bytes[unitStart..<i], as: UTF8.self)
            let nanosecondsPerUnit: Int128
            switch unit {
            case "ns": nanosecondsPerUnit = 1
            case "us", "µs": nanosecondsPerUnit = 1_000
            case "ms": nanosecondsPerUnit = 1_000_000
            case "s": nanosecondsPerUnit = 1_000_000_000
            case "m": nanosecondsPerUnit = 60_000_000_000
            case "h": nanosecondsPerUnit = 3_600_000_000_000
            default: throw .invalid
            }
            total += whole * nanosecondsPerUnit + fraction * nanosecondsPerUnit / scale
            if total > Int128(Int64.max) { throw .tooLarge }
        }
        return .nanoseconds(Int64(total))
    }

    /// The shortest exact spelling in one unit: `1h`, `5m`, `30s`, `250ms`, `10us`, `7ns`.
    static func format(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let nanoseconds = Int128(seconds) * 1_000_000_000 + Int128(attoseconds / 1_000_000_000)
        if nanoseconds == 0 { return "0s" }
        let units: [(Int128, String)] = [
            (3_600_000_000_000, "h"), (60_000_000_000, "m"), (1_000_000_000, "s"),
            (1_000_000, "ms"), (1_000, "us"),
        ]
        for (size, name) in units where nanoseconds % size == 0 {
            return "\(nanoseconds / size)\(name)"
        }
        return "\(nanoseconds)ns"
    }

    private static func digitValue(_ byte: UInt8) -> Int? {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") ? Int(byte - UInt8(ascii: "0")) : nil
    }
}
