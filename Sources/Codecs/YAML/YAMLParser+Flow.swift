extension YAMLParser {
    /// Skips blanks, line breaks and comments between flow tokens. A `#` starts a comment only
    /// after whitespace (or at a line start), as in YAML, so `a#b` stays one scalar.
    mutating func skipFlowSpace() {
        while true {
            let byte = current
            if byte == ASCII.space || byte == ASCII.tab || byte == ASCII.lineFeed {
                advance()
            } else if byte == ASCII.hash {
                let previous = index > 0 ? bytes[index - 1] : ASCII.lineFeed
                guard previous == ASCII.space || previous == ASCII.tab || previous == ASCII.lineFeed else { return }
                skipToLineEnd()
            } else {
                return
            }
        }
    }

    mutating func parseFlowNode(depth: Int) throws(YAMLError) -> YAMLNode {
        switch current {
        case ASCII.leftBracket:
            return try parseFlowSequence(depth: depth + 1)
        case ASCII.leftBrace:
            return try parseFlowMapping(depth: depth + 1)
        case ASCII.singleQuote, ASCII.doubleQuote:
            return try parseQuotedScalarNode()
        default:
            try checkPlainScalarStart(inFlow: true)
            return try parsePlainScalarNode(inFlow: true)
        }
    }

    /// `[a, b, [c], {d: e}]`, possibly over several lines; a trailing comma is allowed.
    mutating func parseFlowSequence(depth: Int) throws(YAMLError) -> YAMLNode {
        try checkDepth(depth)
        let start = position
        advance()  // '['
        var items: [YAMLNode] = []
        skipFlowSpace()
        while current != ASCII.rightBracket {
            if atEnd { throw error("unterminated flow sequence (missing ']')", at: start) }
            if current == ASCII.comma { throw error("empty entry in flow sequence", at: position) }
            items.append(try parseFlowNode(depth: depth))
            skipFlowSpace()
            if current == ASCII.comma {
                advance()
                skipFlowSpace()
            } else if current != ASCII.rightBracket {
                if atEnd { throw error("unterminated flow sequence (missing ']')", at: start) }
                throw error("expected ',' or ']' in flow sequence", at: position)
            }
        }
        advance()  // ']'
        return YAMLNode(.sequence(items), at: start)
    }

    /// `{k: v, k2: [x]}`, possibly over several lines; `{a, b: c}` gives `a` a null value.
    mutating func parseFlowMapping(depth: Int) throws(YAMLError) -> YAMLNode {
        try checkDepth(depth)
        let start = position
        advance()  // '{'
        var entries: [YAMLMappingEntry] = []
        var seen = Set<String>()
        skipFlowSpace()
        while current != ASCII.rightBrace {
            if atEnd { throw error("unterminated flow mapping (missing '}')", at: start) }
            if current == ASCII.comma { throw error("empty entry in flow mapping", at: position) }
            let keyPosition = position
            let key: String
            switch current {
            case ASCII.singleQuote, ASCII.doubleQuote:
                key = String(decoding: try scanQuoted(), as: UTF8.self)
            case ASCII.leftBracket, ASCII.leftBrace:
                throw error("flow collections cannot be mapping keys", at: keyPosition)
            default:
                try checkPlainScalarStart(inFlow: true)
                key = String(decoding: try scanPlain(inFlow: true), as: UTF8.self)
            }
            skipFlowSpace()
            var value = YAMLNode(.null, at: position)
            if current == ASCII.colon {
                advance()
                skipFlowSpace()
                if current == ASCII.comma || current == ASCII.rightBrace {
                    value = YAMLNode(.null, at: position)
                } else {
                    value = try parseFlowNode(depth: depth)
                }
            } else if current != ASCII.comma && current != ASCII.rightBrace {
                if atEnd { throw error("unterminated flow mapping (missing '}')", at: start) }
                throw error("expected ':' after the key", at: position)
            }
            guard seen.insert(key).inserted else {
                throw error("duplicate key \"\(key)\"", at: keyPosition)
            }
            entries.append(YAMLMappingEntry(key: key, keyPosition: keyPosition, value: value))
            skipFlowSpace()
            if current == ASCII.comma {
                advance()
                skipFlowSpace()
            } else if current != ASCII.rightBrace {
                if atEnd { throw error("unterminated flow mapping (missing '}')", at: start) }
                throw error("expected ',' or '}' in flow mapping", at: position)
            }
        }
        advance()  // '}'
        return YAMLNode(.mapping(entries), at: start)
    }
}
