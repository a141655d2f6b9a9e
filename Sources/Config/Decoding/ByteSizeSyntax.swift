/// Reads byte sizes: a plain integer is bytes; `KiB`/`MiB`/`GiB`/`TiB` are powers of 1024;
/// `KB`/`MB`/`GB`/`TB` are powers of 1000 (as in SI, so `512KB` = 512000); `B` is bytes.
/// Units are case-insensitive and may follow a space. Only whole numbers: `1.5MiB` is rejected
/// rather than rounded. `_` may group digits (`100_000`).
enum ByteSizeSyntax {
    enum Failure: Error {
        case invalid, negative, tooLarge
    }

    static func parse(_ text: String) throws(Failure) -> Int {
        let bytes = Array(text.utf8)
        if bytes.first == UInt8(ascii: "-") { throw .negative }
        let (number, end) = try IntegerSyntax.parseDigits(bytes[...])
        var unitBytes = bytes[end...]
        while unitBytes.first == UInt8(ascii: " ") { unitBytes = unitBytes.dropFirst() }
        let multiplier: Int
        switch String(decoding: unitBytes, as: UTF8.self).lowercased() {
        case "", "b": multiplier = 1
        case "kib": multiplier = 1 << 10
        case "mib": multiplier = 1 << 20
        case "gib": multiplier = 1 << 30
        case "tib": multiplier = 1 << 40
        case "kb": multiplier = 1_000
        case "mb": multiplier = 1_000_000
        case "gb": multiplier = 1_000_000_000
        case "tb": multiplier = 1_000_000_000_000
        default: throw .invalid
        }
        let (value, overflow) = number.multipliedReportingOverflow(by: multiplier)
        if overflow { throw .tooLarge }
        return value
    }

    /// `4MiB`, `60KiB`, `512000` (bytes when not a whole number of KiB).
    static func format(_ size: Int) -> String {
        for (shift, name) in [(40, "TiB"), (30, "GiB"), (20, "MiB"), (10, "KiB")] where size != 0 && size % (1 << shift) == 0 {
            return "\(size >> shift)\(name)"
        }
        return "\(size)"
    }
}
