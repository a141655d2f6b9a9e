/// A parsed YAML node. Scalars stay untyped text (plus how they were quoted): deciding whether
/// `30s` is a duration or `true` a boolean is the schema's job, not the parser's.
public struct YAMLNode: Sendable {
    /// How a scalar was written. A quoted `"true"` or `""` is a string, never a boolean or null.
    public enum ScalarStyle: Sendable, Equatable {
        case plain, singleQuoted, doubleQuoted
    }

    public enum Kind: Sendable {
        /// An empty value, `~` or `null` (unquoted).
        case null
        case scalar(String, ScalarStyle)
        case sequence([YAMLNode])
        /// Entries in document order; keys are unique (the parser rejects duplicates).
        case mapping([YAMLMappingEntry])
    }

    public var kind: Kind
    /// Where the node starts: the first key of a block mapping, the `-` of a block sequence,
    /// the bracket of a flow collection, the opening quote, or just after `key:` for an empty value.
    public var position: YAMLPosition

    public init(_ kind: Kind, at position: YAMLPosition) {
        self.kind = kind
        self.position = position
    }

    public var isNull: Bool {
        if case .null = kind { return true }
        return false
    }

    /// The text of a scalar, nil for anything else.
    public var scalar: String? {
        if case .scalar(let text, _) = kind { return text }
        return nil
    }

    public var sequence: [YAMLNode]? {
        if case .sequence(let items) = kind { return items }
        return nil
    }

    public var mapping: [YAMLMappingEntry]? {
        if case .mapping(let entries) = kind { return entries }
        return nil
    }

    /// Looks a key up in a mapping (linear: config mappings are small), nil if absent or not a mapping.
    public subscript(key: String) -> YAMLNode? {
        guard case .mapping(let entries) = kind else { return nil }
        for entry in entries where entry.key == key {
            return entry.value
        }
        return nil
    }

    /// "null", "a string", "a sequence" or "a mapping": for error messages.
    public var kindDescription: String {
        switch kind {
        case .null: return "null"
        case .scalar: return "a string"
        case .sequence: return "a sequence"
        case .mapping: return "a mapping"
        }
    }
}
