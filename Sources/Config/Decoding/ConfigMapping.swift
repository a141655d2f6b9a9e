internal import YAML

/// A mapping section being decoded. Creating one rejects unknown keys straight away (with a
/// "did you mean" hint), so a typo never silently falls back to a default.
struct ConfigMapping {
    let base: ConfigNode
    let entries: [YAMLMappingEntry]

    /// - Parameter knownKeys: nil for free-form mappings (header conditions).
    init(_ base: ConfigNode, knownKeys: [String]?) throws(ConfigError) {
        guard case .mapping(let entries) = base.node.kind else {
            throw base.error("expected a mapping, got \(base.node.kindDescription)")
        }
        self.base = base
        self.entries = entries
        guard let knownKeys else { return }
        for entry in entries where !knownKeys.contains(entry.key) {
            var message = "unknown key \"\(entry.key)\""
            if let suggestion = KeySuggestion.nearest(to: entry.key, in: knownKeys) {
                message += "; did you mean \"\(suggestion)\"?"
            }
            throw ConfigError(
                file: base.file, line: entry.keyPosition.line, column: entry.keyPosition.column,
                path: childPath(entry.key), message: message)
        }
    }

    var path: String { base.path }

    func childPath(_ key: String) -> String {
        base.path.isEmpty ? key : base.path + "." + key
    }

    func entry(_ key: String) -> YAMLMappingEntry? {
        entries.first { $0.key == key }
    }

    func has(_ key: String) -> Bool { entry(key) != nil }

    /// The value of an optional key; nil when absent or written empty/null (= use the default).
    func optional(_ key: String) -> ConfigNode? {
        guard let entry = entry(key), !entry.value.isNull else { return nil }
        return base.child(entry.value, path: childPath(key))
    }

    /// The value of a required key; missing or empty is an error.
    func required(_ key: String) throws(ConfigError) -> ConfigNode {
        guard let entry = entry(key) else {
            throw ConfigError(
                file: base.file, line: base.position.line, column: base.position.column,
                path: childPath(key), message: "missing required key \"\(key)\"")
        }
        let node = base.child(entry.value, path: childPath(key))
        if entry.value.isNull { throw node.error("missing value for required key \"\(key)\"") }
        return node
    }

    /// An error attached to a key itself (for example a conflicting key).
    func keyError(_ key: String, _ message: String) -> ConfigError {
        let position = entry(key)?.keyPosition ?? base.position
        return ConfigError(file: base.file, line: position.line, column: position.column, path: childPath(key), message: message)
    }
}
