/// Why a JSON text was refused, with the byte offset where the problem was found.
public struct JSONError: Error, Sendable, Equatable, CustomStringConvertible {
    public var offset: Int
    public var message: String

    public init(offset: Int, message: String) {
        self.offset = offset
        self.message = message
    }

    public var description: String { "\(message) at byte \(offset)" }
}

/// Bounds on what the parser accepts, so a hostile token or key set cannot use unbounded memory or stack.
public struct JSONLimits: Sendable {
    /// Longest input in bytes.
    public var maxBytes: Int
    /// Deepest nesting of arrays and objects (the parser recurses once per level).
    public var maxDepth: Int

    public init(maxBytes: Int = 1 << 20, maxDepth: Int = 32) {
        self.maxBytes = maxBytes
        self.maxDepth = maxDepth
    }
}
