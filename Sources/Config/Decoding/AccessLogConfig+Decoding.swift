extension AccessLogConfig {
    static let knownKeys = ["path", "format", "sample", "only_errors"]

    init(decoding node: ConfigNode) throws(ConfigError) {
        let mapping = try node.mapping(knownKeys: AccessLogConfig.knownKeys)
        self.init()
        if let value = mapping.optional("path") {
            let text = try value.nonEmptyString()
            switch text {
            case "stdout": destination = .stdout
            case "stderr": destination = .stderr
            default:
                if text.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) { throw value.error("file path contains control characters") }
                destination = .file(ConfigRelativePath.resolve(text, configFile: value.file))
            }
        }
        if let value = mapping.optional("format") {
            let text = try value.nonEmptyString()
            format = text == "json" ? .json : .pieces(try AccessLogConfig.parseFormat(text, node: value))
        }
        if let value = mapping.optional("sample") {
            let text = try value.scalarText(expected: "a number from 0 to 1")
            guard let fraction = Double(text), fraction >= 0, fraction <= 1 else {
                throw value.error("expected a number from 0 to 1 (the fraction of calls logged), got \"\(text)\"")
            }
            sample = fraction
        }
        if let value = mapping.optional("only_errors") { onlyErrors = try value.bool() }
    }

    /// `"%start_time% %route% %grpc_status%"`: literal text with `%field%` placeholders; `%%` is a literal `%`.
    static func parseFormat(_ text: String, node: ConfigNode) throws(ConfigError) -> [FormatPiece] {
        var pieces: [FormatPiece] = []
        var literal = ""
        var rest = Substring(text)
        while let percent = rest.firstIndex(of: "%") {
            literal += rest[..<percent]
            let afterPercent = rest.index(after: percent)
            guard let close = rest[afterPercent...].firstIndex(of: "%") else {
                throw node.error("unclosed \"%\" in access log format (write %% for a literal %)")
            }
            let name = String(rest[afterPercent..<close])
            if name.isEmpty {
                literal += "%"
            } else {
                guard let field = AccessLogField(rawValue: name.lowercased()) else {
                    var message = "unknown access log field %\(name)% (known: \(AccessLogField.allCases.map(\.rawValue).joined(separator: ", ")))"
                    if let suggestion = KeySuggestion.nearest(to: name.lowercased(), in: AccessLogField.allCases.map(\.rawValue)) {
                        message += "; did you mean %\(suggestion)%?"
                    }
                    throw node.error(message)
                }
                if !literal.isEmpty { pieces.append(.literal(literal)); literal = "" }
                pieces.append(.field(field))
            }
            rest = rest[rest.index(after: close)...]
        }
        literal += rest
        if !literal.isEmpty { pieces.append(.literal(literal)) }
        return pieces
    }
}
