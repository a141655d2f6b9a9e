/// A strict RFC 8259 parser: one value, optional whitespace around it, nothing after. Strings must be valid
/// UTF-8 with valid escapes (a lone surrogate escape is refused: it has no UTF-8 form), numbers follow the
/// grammar exactly (no leading zeros, no `+`, no NaN), duplicate object member names are refused.
public struct JSONParser {
    private let bytes: [UInt8]
    private let limits: JSONLimits
    private var index = 0

    public static func parse(_ bytes: [UInt8], limits: JSONLimits = JSONLimits()) throws(JSONError) -> JSONValue {
        if bytes.count > limits.maxBytes {
            throw JSONError(offset: limits.maxBytes, message: "JSON text is larger than \(limits.maxBytes) bytes")
        }
        var parser = JSONParser(bytes: bytes, limits: limits)
        parser.skipWhitespace()
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        if parser.index != bytes.count { throw parser.failure("unexpected data after the JSON value") }
        return value
    }

    public static func parse(_ text: String, limits: JSONLimits = JSONLimits()) throws(JSONError) -> JSONValue {
        try parse(Array(text.utf8), limits: limits)
    }

    private init(bytes: [UInt8], limits: JSONLimits) {
        self.bytes = bytes
        self.limits = limits
    }

    private func failure(_ message: String) -> JSONError { JSONError(offset: index, message: message) }

    private var atEnd: Bool { index >= bytes.count }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    private mutating func parseValue(depth: Int) throws(JSONError) -> JSONValue {
        guard !atEnd else { throw failure("unexpected end of JSON text") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
        case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectLiteral("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
        default: throw failure("unexpected character")
        }
    }

    private mutating func expectLiteral(_ literal: StaticString) throws(JSONError) {
        let count = literal.utf8CodeUnitCount
        guard index + count <= bytes.count else { throw failure("unexpected end of JSON text") }
        let expected = UnsafeBufferPointer(start: literal.utf8Start, count: count)
        for offset in 0..<count where bytes[index + offset] != expected[offset] {
            index += offset
            throw failure("invalid literal")
        }
        index += count
    }

    private mutating func parseObject(depth: Int) throws(JSONError) -> JSONValue {
        if depth > limits.maxDepth { throw failure("JSON nested deeper than \(limits.maxDepth) levels") }
        index += 1
        var members: [(String, JSONValue)] = []
        var names = Set<String>()
        skipWhitespace()
        if !atEnd && bytes[index] == UInt8(ascii: "}") { index += 1; return .object(members) }
        while true {
            skipWhitespace()
            guard !atEnd else { throw failure("unexpected end of JSON text") }
            guard bytes[index] == UInt8(ascii: "\"") else { throw failure("expected a member name") }
            let nameOffset = index
            let name = try parseString()
            guard names.insert(name).inserted else {
                throw JSONError(offset: nameOffset, message: "member \"\(name)\" appears twice")
            }
            skipWhitespace()
            guard !atEnd else { throw failure("unexpected end of JSON text") }
            guard bytes[index] == UInt8(ascii: ":") else { throw failure("expected \":\"") }
            index += 1
            skipWhitespace()
            members.append((name, try parseValue(depth: depth)))
            skipWhitespace()
            guard !atEnd else { throw failure("unexpected end of JSON text") }
            switch bytes[index] {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "}"): index += 1; return .object(members)
            default: throw failure("expected \",\" or \"}\"")
            }
        }
    }

    private mutating func parseArray(depth: Int) throws(JSONError) -> JSONValue {
        if depth > limits.maxDepth { throw failure("JSON nested deeper than \(limits.maxDepth) levels") }
        index += 1
        var items: [JSONValue] = []
        skipWhitespace()
        if !atEnd && bytes[index] == UInt8(ascii: "]") { index += 1; return .array(items) }
        while true {
            skipWhitespace()
            items.append(try parseValue(depth: depth))
            skipWhitespace()
            guard !atEnd else { throw failure("unexpected end of JSON text") }
            switch bytes[index] {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "]"): index += 1; return .array(items)
            default: throw failure("expected \",\" or \"]\"")
            }
        }
    }

    private mutating func parseNumber() throws(JSONError) -> JSONNumber {
        let start = index
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard !atEnd, isDigit(bytes[index]) else { throw failure("invalid number") }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
            if !atEnd && isDigit(bytes[index]) { throw failure("invalid number (leading zero)") }
        } else {
            skipDigits()
        }
        if !atEnd && bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard !atEnd, isDigit(bytes[index]) else { throw failure("invalid number (no digit after \".\")") }
            skipDigits()
        }
        if !atEnd && (bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E")) {
            index += 1
            if !atEnd && (bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-")) { index += 1 }
            guard !atEnd, isDigit(bytes[index]) else { throw failure("invalid number (no digit in the exponent)") }
            skipDigits()
        }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        // The grammar above is a subset of what Double(_:) reads; overflow gives ±infinity, which we refuse.
        guard let value = Double(text), value.isFinite else {
            throw JSONError(offset: start, message: "number out of range")
        }
        return JSONNumber(text: text, value: value)
    }

    private func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    private mutating func skipDigits() {
        while !atEnd && isDigit(bytes[index]) { index += 1 }
    }

    private mutating func parseString() throws(JSONError) -> String {
        index += 1
        var utf8: [UInt8] = []
        var runStart = index
        while true {
            guard !atEnd else { throw failure("unterminated string") }
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                utf8.append(contentsOf: bytes[runStart..<index])
                index += 1
                break
            }
            if byte < 0x20 { throw failure("control character in string") }
            if byte == UInt8(ascii: "\\") {
                utf8.append(contentsOf: bytes[runStart..<index])
                try parseEscape(into: &utf8)
                runStart = index
                continue
            }
            index += 1
        }
        guard let text = String(validating: utf8, as: UTF8.self) else {
            throw failure("string is not valid UTF-8")
        }
        return text
    }

    private mutating func parseEscape(into utf8: inout [UInt8]) throws(JSONError) {
        index += 1
        guard !atEnd else { throw failure("unterminated string") }
        let byte = bytes[index]
        index += 1
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): utf8.append(byte)
        case UInt8(ascii: "b"): utf8.append(0x08)
        case UInt8(ascii: "f"): utf8.append(0x0C)
        case UInt8(ascii: "n"): utf8.append(0x0A)
        case UInt8(ascii: "r"): utf8.append(0x0D)
        case UInt8(ascii: "t"): utf8.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = UInt32(try parseHex4())
            if (0xD800...0xDBFF).contains(scalar) {
                // A high surrogate must be followed by an escaped low surrogate; together they name one scalar.
                guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                    throw failure("unpaired surrogate in \\u escape")
                }
                index += 2
                let low = UInt32(try parseHex4())
                guard (0xDC00...0xDFFF).contains(low) else { throw failure("unpaired surrogate in \\u escape") }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            } else if (0xDC00...0xDFFF).contains(scalar) {
                throw failure("unpaired surrogate in \\u escape")
            }
            guard let unicode = Unicode.Scalar(scalar) else { throw failure("invalid \\u escape") }
            utf8.append(contentsOf: Array(String(Character(unicode)).utf8))
        default:
            index -= 1
            throw failure("invalid escape")
        }
    }

    private mutating func parseHex4() throws(JSONError) -> UInt16 {
        guard index + 4 <= bytes.count else { throw failure("unterminated \\u escape") }
        var value: UInt16 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw failure("invalid hex digit in \\u escape")
            }
            value = value << 4 | UInt16(digit)
            index += 1
        }
        return value
    }
}
