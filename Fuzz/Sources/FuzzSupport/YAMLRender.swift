import YAML

/// A canonical text form of a YAML tree (kinds, texts, quoting styles, positions), for comparing two parses.
public func renderYAML(_ node: YAMLNode) -> String {
    let at = "@\(node.position.line):\(node.position.column)"
    switch node.kind {
    case .null:
        return "~" + at
    case .scalar(let text, let style):
        return "\(style)\(text.utf8.count):\(text)" + at
    case .sequence(let items):
        return "[" + items.map(renderYAML).joined(separator: ",") + "]" + at
    case .mapping(let entries):
        return "{" + entries.map { "\($0.key.utf8.count):\($0.key)@\($0.keyPosition)=\(renderYAML($0.value))" }.joined(separator: ",") + "}" + at
    }
}

/// Checks a YAML error points inside the text and says something.
public func checkYAMLError(_ error: YAMLError, text: String) {
    let lines = text.utf8.reduce(1) { $1 == 0x0A ? $0 + 1 : $0 }
    fuzzCheck(error.line >= 1 && error.line <= lines + 1, "error line \(error.line) outside 1...\(lines + 1)")
    fuzzCheck(error.column >= 1, "error column \(error.column)")
    fuzzCheck(!error.message.isEmpty, "empty error message")
}
