/// One `key: value` pair of a mapping. Keys are always strings in our subset; the key's own
/// position is kept so "unknown key" errors can point at the key rather than its value.
public struct YAMLMappingEntry: Sendable {
    public var key: String
    public var keyPosition: YAMLPosition
    public var value: YAMLNode

    public init(key: String, keyPosition: YAMLPosition, value: YAMLNode) {
        self.key = key
        self.keyPosition = keyPosition
        self.value = value
    }
}
