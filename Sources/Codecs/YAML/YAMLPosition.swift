/// A place in the source text, 1-based. Columns count Unicode scalars, not bytes, so
/// they match what an editor shows for non-ASCII lines.
public struct YAMLPosition: Sendable, Hashable, CustomStringConvertible {
    public var line: Int
    public var column: Int

    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    public var description: String { "\(line):\(column)" }
}
