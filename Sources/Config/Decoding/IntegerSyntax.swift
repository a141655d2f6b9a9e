/// Decimal integers with optional `_` digit grouping (`100_000`), as YAML 1.1 allowed.
enum IntegerSyntax {
    static func parse(_ text: String) throws(ByteSizeSyntax.Failure) -> Int {
        let bytes = Array(text.utf8)
        if bytes.first == UInt8(ascii: "-") {
            // Still a number: report it as out of range rather than as a syntax error.
            let (magnitude, end) = try parseDigits(bytes.dropFirst())
            guard end == bytes.count else { throw .invalid }
            return -magnitude
        }
        let (value, end) = try parseDigits(bytes[...])
        guard end == bytes.count else { throw .invalid }
        return value
    }

    /// Leading digits (and `_` between digits) of `bytes`; returns the value and the index
    /// after them. Throws when there is no digit at all.
    static func parseDigits(_ bytes: ArraySlice<UInt8>) throws(ByteSizeSyntax.Failure) -> (Int, Int) {
        var value = 0
        var index = bytes.startIndex
        var sawDigit = false
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") {
                let (shifted, overflow1) = value.multipliedReportingOverflow(by: 10)
                let (sum, overflow2) = shifted.addingReportingOverflow(Int(byte - UInt8(ascii: "0")))
                if overflow1 || overflow2 { throw .tooLarge }
                value = sum
                sawDigit = true
            } else if byte == UInt8(ascii: "_") && sawDigit && index + 1 < bytes.endIndex
                && bytes[index + 1] >= UInt8(ascii: "0") && bytes[index + 1] <= UInt8(ascii: "9") {
                // grouping separator
            } else {
                break
            }
            index += 1
        }
        guard sawDigit else { throw .invalid }
        return (value, index)
    }
}
