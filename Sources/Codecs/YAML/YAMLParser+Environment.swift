extension YAMLParser {
    /// Replaces `${NAME}` and `${NAME:-default}` in a scalar value with values from the
    /// environment dictionary. `:-` follows the shell: the default applies when the variable is
    /// unset or empty. `$${` stands for a literal `${`. Errors point at the scalar's start.
    func substitute(_ raw: ArraySlice<UInt8>, at start: YAMLPosition) throws(YAMLError) -> String {
        guard raw.contains(ASCII.dollar) else { return String(decoding: raw, as: UTF8.self) }
        let raw = Array(raw)
        var out: [UInt8] = []
        out.reserveCapacity(raw.count)
        var i = 0
        while i < raw.count {
            let byte = raw[i]
            let next = i + 1 < raw.count ? raw[i + 1] : 0
            if byte == ASCII.dollar && next == ASCII.dollar && i + 2 < raw.count && raw[i + 2] == ASCII.leftBrace {
                out.append(ASCII.dollar)
                out.append(ASCII.leftBrace)
                i += 3
                continue
            }
            guard byte == ASCII.dollar && next == ASCII.leftBrace else {
                out.append(byte)
                i += 1
                continue
            }
            guard let close = raw[(i + 2)...].firstIndex(of: ASCII.rightBrace) else {
                throw error("unterminated '${' in value (expected '}')", at: start)
            }
            let body = raw[(i + 2)..<close]
            var nameBytes = body
            var fallback: ArraySlice<UInt8>?
            if let colon = body.firstIndex(of: ASCII.colon), colon + 1 < close, raw[colon + 1] == ASCII.minus {
                nameBytes = raw[(i + 2)..<colon]
                fallback = raw[(colon + 2)..<close]
            }
            let name = String(decoding: nameBytes, as: UTF8.self)
            guard YAMLParser.isValidVariableName(nameBytes) else {
                throw error("invalid environment variable name \"\(name)\" in '${...}'", at: start)
            }
            if let value = environment[name], !(value.isEmpty && fallback != nil) {
                out.append(contentsOf: value.utf8)
            } else if let fallback {
                out.append(contentsOf: fallback)
            } else {
                throw error("environment variable \"\(name)\" is not set (use ${\(name):-default} for a default)", at: start)
            }
            i = close + 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Shell-style names: a letter or `_`, then letters, digits or `_`.
    static func isValidVariableName(_ name: ArraySlice<UInt8>) -> Bool {
        guard let first = name.first else { return false }
        func isLetter(_ b: UInt8) -> Bool {
            (ASCII.upperA...ASCII.upperZ).contains(b) || (ASCII.lowerA...ASCII.lowerZ).contains(b) || b == ASCII.underscore
        }
        guard isLetter(first) else { return false }
        return name.allSatisfy { isLetter($0) || (ASCII.zero...ASCII.nine).contains($0) }
    }
}
