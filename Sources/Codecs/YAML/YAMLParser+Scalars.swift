extension YAMLParser {
    /// Rejects characters that cannot start a plain scalar in our subset, with a message that
    /// says which YAML feature the author probably meant.
    func checkPlainScalarStart(inFlow: Bool) throws(YAMLError) {
        let byte = current
        let here = position
        switch byte {
        case ASCII.ampersand:
            throw error("anchors ('&') are not supported", at: here)
        case ASCII.asterisk:
            throw error("aliases ('*') are not supported; quote the value if you mean a literal '*'", at: here)
        case ASCII.exclamation:
            throw error("tags ('!') are not supported", at: here)
        case ASCII.pipe, ASCII.greaterThan:
            throw error("block scalars ('|' and '>') are not supported; use a quoted string with \\n escapes", at: here)
        case ASCII.percent, ASCII.at, ASCII.backtick, ASCII.hash:
            throw error("'\(Character(Unicode.Scalar(byte)))' cannot start a plain value; quote the value", at: here)
        case ASCII.question where isBlankOrEnd(peek(1)) || (inFlow && ASCII.isFlowIndicator(peek(1))):
            throw error("complex mapping keys ('? ') are not supported", at: here)
        case ASCII.comma, ASCII.rightBracket, ASCII.rightBrace:
            throw error("unexpected '\(Character(Unicode.Scalar(byte)))'", at: here)
        case ASCII.minus where inFlow && isBlankOrEnd(peek(1)):
            throw error("block sequence items ('- ') are not allowed inside a flow collection", at: here)
        default:
            return
        }
    }

    /// Scans a plain scalar on the current line and returns its bytes without trailing blanks.
    /// In block context a `: ` inside the value is an error (it would be a nested mapping on the
    /// same line); in flow context `: ` and the flow indicators end the scalar.
    mutating func scanPlain(inFlow: Bool) throws(YAMLError) -> ArraySlice<UInt8> {
        let first = index
        var end = index
        while true {
            let byte = current
            if byte == ASCII.lineFeed || byte == ASCII.nul { break }
            if byte == ASCII.colon {
                let next = peek(1)
                if isBlankOrEnd(next) || (inFlow && ASCII.isFlowIndicator(next)) {
                    if inFlow { break }
                    throw error("mapping values are not allowed here; quote the value if it contains ': '", at: position)
                }
            }
            if byte == ASCII.dollar && peek(1) == ASCII.leftBrace {
                // Keep a `${VAR}` reference whole even in flow context, where its braces would
                // otherwise end the scalar: `[${HOST}:50051]` must work.
                try skipVariableReference()
                end = index
                continue
            }
            if inFlow && ASCII.isFlowIndicator(byte) { break }
            if (byte == ASCII.space || byte == ASCII.tab) && peek(1) == ASCII.hash { break }
            advance()
            if byte != ASCII.space && byte != ASCII.tab { end = index }
        }
        return bytes[first..<end]
    }

    /// Moves past `${...}` (cursor on the `$`).
    mutating func skipVariableReference() throws(YAMLError) {
        let start = position
        advance()
        advance()
        while current != ASCII.rightBrace {
            if current == ASCII.lineFeed || atEnd {
                throw error("unterminated '${' in value (expected '}')", at: start)
            }
            advance()
        }
        advance()
    }

    mutating func parsePlainScalarNode(inFlow: Bool) throws(YAMLError) -> YAMLNode {
        let start = position
        let raw = try scanPlain(inFlow: inFlow)
        if YAMLParser.isNullLiteral(raw) { return YAMLNode(.null, at: start) }
        let value = try substitute(raw, at: start)
        return YAMLNode(.scalar(value, .plain), at: start)
    }

    /// `~`, `null`, `Null`, `NULL` (YAML 1.2 core schema). The empty case never reaches here:
    /// an empty value is detected before any scalar is scanned.
    static func isNullLiteral(_ raw: ArraySlice<UInt8>) -> Bool {
        switch raw.count {
        case 1:
            return raw.first == ASCII.tilde
        case 4:
            let text = String(decoding: raw, as: UTF8.self)
            return text == "null" || text == "Null" || text == "NULL"
        default:
            return false
        }
    }

    mutating func parseQuotedScalarNode() throws(YAMLError) -> YAMLNode {
        let start = position
        let style: YAMLNode.ScalarStyle = current == ASCII.singleQuote ? .singleQuoted : .doubleQuoted
        let raw = try scanQuoted()
        let value = try substitute(raw[...], at: start)
        return YAMLNode(.scalar(value, style), at: start)
    }

    /// Scans a single- or double-quoted scalar at the cursor and returns its unescaped bytes.
    /// Quoted scalars must close on the line they open on (multi-line folding is not supported).
    mutating func scanQuoted() throws(YAMLError) -> [UInt8] {
        let start = position
        let quote = current
        advance()
        var out: [UInt8] = []
        while true {
            let byte = current
            if byte == ASCII.lineFeed || atEnd {
                throw error("unterminated quoted string (quoted strings must end on the line they start)", at: start)
            }
            if byte == quote {
                if quote == ASCII.singleQuote && peek(1) == ASCII.singleQuote {
                    out.append(ASCII.singleQuote)
                    advance()
                    advance()
                    continue
                }
                advance()
                return out
            }
            if quote == ASCII.doubleQuote && byte == ASCII.backslash {
                try scanEscape(into: &out)
                continue
            }
            out.append(byte)
            advance()
        }
    }

    /// One `\` escape of a double-quoted scalar (cursor on the backslash).
    mutating func scanEscape(into out: inout [UInt8]) throws(YAMLError) {
        let start = position
        advance()
        let code = current
        let simple: UInt8?
        switch code {
        case ASCII.lineFeed, ASCII.nul:
            throw error("unterminated quoted string (quoted strings must end on the line they start)", at: start)
        case UInt8(ascii: "0"): simple = 0x00
        case UInt8(ascii: "a"): simple = 0x07
        case UInt8(ascii: "b"): simple = 0x08
        case UInt8(ascii: "t"), ASCII.tab: simple = ASCII.tab
        case UInt8(ascii: "n"): simple = ASCII.lineFeed
        case UInt8(ascii: "v"): simple = 0x0B
        case UInt8(ascii: "f"): simple = 0x0C
        case UInt8(ascii: "r"): simple = ASCII.carriageReturn
        case UInt8(ascii: "e"): simple = 0x1B
        case ASCII.space, ASCII.doubleQuote, ASCII.slash, ASCII.backslash: simple = code
        default: simple = nil
        }
        if let simple {
            out.append(simple)
            advance()
            return
        }
        let digits: Int
        switch code {
        case UInt8(ascii: "x"): digits = 2
        case UInt8(ascii: "u"): digits = 4
        case UInt8(ascii: "U"): digits = 8
        default:
            throw error("invalid escape sequence '\\\(Character(Unicode.Scalar(code)))'", at: start)
        }
        advance()
        var scalar = try scanHex(digits: digits, escapeStart: start)
        if (0xD800..<0xDC00).contains(scalar) && digits == 4 {
            // A JSON-style surrogate pair: "\uD83D\uDE00".
            guard current == ASCII.backslash && peek(1) == UInt8(ascii: "u") else {
                throw error("unpaired surrogate in Unicode escape", at: start)
            }
            advance()
            advance()
            let low = try scanHex(digits: 4, escapeStart: start)
            guard (0xDC00..<0xE000).contains(low) else {
                throw error("unpaired surrogate in Unicode escape", at: start)
            }
            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
        }
        guard Unicode.Scalar(scalar) != nil else {
            throw error("invalid Unicode escape (not a Unicode scalar value)", at: start)
        }
        ASCII.appendUTF8(scalar, to: &out)
    }

    mutating func scanHex(digits: Int, escapeStart: YAMLPosition) throws(YAMLError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<digits {
            guard let digit = ASCII.hexValue(current) else {
                throw error("invalid escape sequence: expected \(digits) hexadecimal digits", at: escapeStart)
            }
            value = value << 4 | digit
            advance()
        }
        return value
    }
}
