/// Parser for the YAML subset our configuration uses: block mappings and sequences, flow
/// collections, plain and quoted scalars, comments, `${VAR}` substitution.
///
/// It is a single-pass recursive descent over the UTF-8 bytes. Anything outside the subset
/// (anchors, tags, block scalars, several documents) is rejected with an error naming its
/// position, because silently mis-reading a config is worse than refusing it.
///
/// Invariant between block-level steps: the cursor sits on the first non-blank character of a
/// content line (blank and comment-only lines already skipped), or at the end of input. A line's
/// indentation is then simply `column - 1`.
public struct YAMLParser {
    /// Parses one document. An empty document (only comments or nothing) is a null node at 1:1.
    ///
    /// - Parameters:
    ///   - environment: values for `${NAME}` / `${NAME:-default}` in scalar values.
    ///   - maxDepth: bound on collection nesting, so hostile input cannot exhaust the stack.
    public static func parse(
        _ text: String, environment: [String: String] = [:], maxDepth: Int = 64
    ) throws(YAMLError) -> YAMLNode {
        var parser = YAMLParser(text: text, environment: environment, maxDepth: maxDepth)
        return try parser.parseDocument()
    }

    let bytes: [UInt8]
    let environment: [String: String]
    let maxDepth: Int
    var index = 0
    var line = 1
    var column = 1

    init(text: String, environment: [String: String], maxDepth: Int) {
        // CR of CRLF pairs is dropped up front so the scanner only knows LF; a NUL sentinel at
        // the end lets every look-ahead read a byte without a bounds test (a NUL inside the text
        // is rejected in parseDocument).
        var bytes = [UInt8]()
        bytes.reserveCapacity(text.utf8.count + 1)
        var pendingCR = false
        for byte in text.utf8 {
            if pendingCR && byte != ASCII.lineFeed { bytes.append(ASCII.carriageReturn) }
            pendingCR = byte == ASCII.carriageReturn
            if !pendingCR { bytes.append(byte) }
        }
        if pendingCR { bytes.append(ASCII.carriageReturn) }
        bytes.append(ASCII.nul)
        self.bytes = bytes
        self.environment = environment
        self.maxDepth = maxDepth
    }

    // MARK: - Cursor

    var atEnd: Bool { index >= bytes.count - 1 }
    var current: UInt8 { bytes[index] }
    func peek(_ offset: Int) -> UInt8 {
        let at = index + offset
        return at < bytes.count ? bytes[at] : ASCII.nul
    }
    var position: YAMLPosition { YAMLPosition(line: line, column: column) }

    mutating func advance() {
        guard index < bytes.count - 1 else { return }
        let byte = bytes[index]
        index += 1
        if byte == ASCII.lineFeed {
            line += 1
            column = 1
        } else if byte & 0xC0 != 0x80 {
            // Continuation bytes of a multi-byte character do not start a new column.
            column += 1
        }
    }

    /// Saves the cursor for a speculative scan.
    var mark: (index: Int, line: Int, column: Int) { (index, line, column) }
    mutating func reset(to mark: (index: Int, line: Int, column: Int)) {
        (index, line, column) = mark
    }

    func error(_ message: String, at position: YAMLPosition) -> YAMLError {
        YAMLError(position: position, message: message)
    }

    /// Space, tab, line break or end of input: what must follow `-`, `:` and `?` indicators.
    func isBlankOrEnd(_ byte: UInt8) -> Bool {
        byte == ASCII.space || byte == ASCII.tab || byte == ASCII.lineFeed || byte == ASCII.nul
    }

    var atLineEnd: Bool { current == ASCII.lineFeed || atEnd }

    /// Skips spaces and tabs inside a line; returns whether any were skipped.
    @discardableResult
    mutating func skipInlineSpaces() -> Bool {
        let start = index
        while current == ASCII.space || current == ASCII.tab { advance() }
        return index != start
    }

    mutating func skipToLineEnd() {
        while !atLineEnd { advance() }
    }

    // MARK: - Document

    mutating func parseDocument() throws(YAMLError) -> YAMLNode {
        if let nul = bytes.firstIndex(of: ASCII.nul), nul < bytes.count - 1 {
            // Find the position of the NUL for the message by walking to it.
            while index < nul { advance() }
            throw error("NUL characters are not allowed", at: position)
        }
        // A UTF-8 byte order mark is invisible in editors; accept it rather than report column 2.
        if bytes.count >= 4 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF {
            index = 3
        }
        try skipToContent(documentStartAllowed: true)
        if column == 1 && current == ASCII.percent {
            throw error("directives ('%') are not supported", at: position)
        }
        if atDocumentMarker(ASCII.minus) {
            for _ in 0..<3 { advance() }
            let spaced = skipInlineSpaces()
            if current == ASCII.hash && spaced { skipToLineEnd() }
            if !atLineEnd {
                throw error("content after '---' is not supported; start the document on the next line", at: position)
            }
            advance()
            try skipToContent(documentStartAllowed: false)
        }
        if atEnd { return YAMLNode(.null, at: YAMLPosition(line: 1, column: 1)) }
        let node = try parseBlockNodeAtLineStart(indent: column - 1, depth: 0)
        if !atEnd {
            throw error("unexpected indentation", at: position)
        }
        return node
    }

    /// `---` or `...` at the start of a line, followed by a blank or the end.
    func atDocumentMarker(_ byte: UInt8) -> Bool {
        column == 1 && current == byte && peek(1) == byte && peek(2) == byte && isBlankOrEnd(peek(3))
    }

    /// From the start of a line, skips blank and comment-only lines and the indentation of the
    /// next content line. Tabs are fine on blank lines but not in front of content: YAML forbids
    /// them as indentation and editors disagree about their width.
    mutating func skipToContent(documentStartAllowed: Bool = false) throws(YAMLError) {
        while true {
            var tabPosition: YAMLPosition?
            while current == ASCII.space || current == ASCII.tab {
                if current == ASCII.tab && tabPosition == nil { tabPosition = position }
                advance()
            }
            if current == ASCII.hash { skipToLineEnd() }
            if current == ASCII.lineFeed {
                advance()
                continue
            }
            if atEnd { return }
            if let tabPosition {
                throw error("tab characters are not allowed in indentation", at: tabPosition)
            }
            if !documentStartAllowed && (atDocumentMarker(ASCII.minus) || atDocumentMarker(ASCII.dot)) {
                throw error("multiple documents are not supported", at: position)
            }
            return
        }
    }

    /// After a value that ended mid-line: only spaces and a comment may follow. Moves to the
    /// next content line.
    mutating func finishLine() throws(YAMLError) {
        let spaced = skipInlineSpaces()
        if current == ASCII.hash {
            guard spaced else {
                throw error("a comment needs a space before '#'", at: position)
            }
            skipToLineEnd()
        }
        guard atLineEnd else {
            throw error("unexpected characters after the value", at: position)
        }
        advance()
        try skipToContent()
    }

    // MARK: - Block structure

    var atSequenceItem: Bool { current == ASCII.minus && isBlankOrEnd(peek(1)) }

    /// Whether the line content at the cursor is `key:` (speculative, cursor unchanged).
    mutating func atMappingKey() -> Bool {
        // `: value` is a key, just an empty one: let parseMappingKey report it as such.
        if current == ASCII.colon && isBlankOrEnd(peek(1)) { return true }
        let saved = mark
        defer { reset(to: saved) }
        do {
            _ = try parseMappingKey()
            return true
        } catch {
            return false
        }
    }

    func checkDepth(_ depth: Int) throws(YAMLError) {
        if depth > maxDepth {
            throw error("nesting deeper than \(maxDepth) levels", at: position)
        }
    }

    /// A node that starts on its own line at `indent`.
    mutating func parseBlockNodeAtLineStart(indent: Int, depth: Int) throws(YAMLError) -> YAMLNode {
        try checkDepth(depth)
        if atSequenceItem { return try parseBlockSequence(indent: indent, depth: depth) }
        if atMappingKey() { return try parseBlockMapping(indent: indent, depth: depth) }
        let node = try parseInlineValue(depth: depth)
        try finishLine()
        return node
    }

    mutating func parseBlockMapping(indent: Int, depth: Int) throws(YAMLError) -> YAMLNode {
        try checkDepth(depth)
        let start = position
        var entries: [YAMLMappingEntry] = []
        var seen = Set<String>()
        while true {
            let keyPosition = position
            if atSequenceItem {
                throw error("expected a mapping key, found a sequence item", at: keyPosition)
            }
            let key = try parseMappingKey()
            guard seen.insert(key).inserted else {
                throw error("duplicate key \"\(key)\"", at: keyPosition)
            }
            let value = try parseBlockValue(parentIndent: indent, inSequence: false, depth: depth + 1)
            entries.append(YAMLMappingEntry(key: key, keyPosition: keyPosition, value: value))
            if atEnd { break }
            let lineIndent = column - 1
            if lineIndent < indent { break }
            if lineIndent > indent {
                throw error("unexpected indentation", at: position)
            }
        }
        return YAMLNode(.mapping(entries), at: start)
    }

    mutating func parseBlockSequence(indent: Int, depth: Int) throws(YAMLError) -> YAMLNode {
        try checkDepth(depth)
        let start = position
        var items: [YAMLNode] = []
        while true {
            advance()  // the '-'
            items.append(try parseBlockValue(parentIndent: indent, inSequence: true, depth: depth + 1))
            if atEnd { break }
            let lineIndent = column - 1
            if lineIndent < indent { break }
            if lineIndent > indent {
                throw error("unexpected indentation", at: position)
            }
            // Same indentation but not `- `: a compact sequence under a mapping key has ended
            // and the next key of that mapping follows; the caller checks it.
            if !atSequenceItem { break }
        }
        return YAMLNode(.sequence(items), at: start)
    }

    /// The value after `key:` or `- `: inline on the same line, or a block on the following,
    /// more indented lines, or empty (null).
    mutating func parseBlockValue(parentIndent: Int, inSequence: Bool, depth: Int) throws(YAMLError) -> YAMLNode {
        let afterIndicator = position
        let spaced = skipInlineSpaces()
        if current == ASCII.hash && spaced { skipToLineEnd() }
        if atLineEnd {
            advance()
            try skipToContent()
            if atEnd { return YAMLNode(.null, at: afterIndicator) }
            let lineIndent = column - 1
            if lineIndent > parentIndent {
                return try parseBlockNodeAtLineStart(indent: lineIndent, depth: depth)
            }
            // `key:` followed by `- item` lines at the key's own indentation (compact form).
            if lineIndent == parentIndent && !inSequence && atSequenceItem {
                return try parseBlockSequence(indent: lineIndent, depth: depth)
            }
            return YAMLNode(.null, at: afterIndicator)
        }
        try checkDepth(depth)
        if inSequence {
            // `- - a` and `- key: value` open a collection whose indentation is this column.
            if atSequenceItem { return try parseBlockSequence(indent: column - 1, depth: depth) }
            if atMappingKey() { return try parseBlockMapping(indent: column - 1, depth: depth) }
        } else if atSequenceItem {
            throw error("a block sequence cannot start on the same line as its key", at: position)
        }
        let node = try parseInlineValue(depth: depth)
        try finishLine()
        return node
    }

    /// A scalar or flow collection that starts at the cursor and (except for flow collections)
    /// ends on this line.
    mutating func parseInlineValue(depth: Int) throws(YAMLError) -> YAMLNode {
        switch current {
        case ASCII.leftBracket:
            return try parseFlowSequence(depth: depth + 1)
        case ASCII.leftBrace:
            return try parseFlowMapping(depth: depth + 1)
        case ASCII.singleQuote, ASCII.doubleQuote:
            return try parseQuotedScalarNode()
        default:
            try checkPlainScalarStart(inFlow: false)
            return try parsePlainScalarNode(inFlow: false)
        }
    }

    /// Parses `key:` (plain or quoted key) and leaves the cursor just after the colon.
    mutating func parseMappingKey() throws(YAMLError) -> String {
        let start = position
        if current == ASCII.singleQuote || current == ASCII.doubleQuote {
            let key = String(decoding: try scanQuoted(), as: UTF8.self)
            skipInlineSpaces()
            guard current == ASCII.colon && isBlankOrEnd(peek(1)) else {
                throw error("expected ':' after the key", at: position)
            }
            advance()
            return key
        }
        if current == ASCII.leftBracket || current == ASCII.leftBrace {
            throw error("flow collections cannot be mapping keys", at: start)
        }
        try checkPlainScalarStart(inFlow: false)
        let first = index
        var end = index
        while true {
            let byte = current
            if byte == ASCII.lineFeed || byte == ASCII.nul {
                throw error("expected a mapping key followed by ':'", at: start)
            }
            if byte == ASCII.colon && isBlankOrEnd(peek(1)) { break }
            if (byte == ASCII.space || byte == ASCII.tab) && peek(1) == ASCII.hash {
                throw error("expected a mapping key followed by ':'", at: start)
            }
            advance()
            if byte != ASCII.space && byte != ASCII.tab { end = index }
        }
        guard end > first else { throw error("empty mapping key", at: start) }
        advance()  // the ':'
        return String(decoding: bytes[first..<end], as: UTF8.self)
    }
}
