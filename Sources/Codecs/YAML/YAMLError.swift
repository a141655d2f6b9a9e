/// A syntax error or an unsupported construct, with the place it was found.
public struct YAMLError: Error, Sendable, Equatable, CustomStringConvertible {
    public var position: YAMLPosition
    public var message: String

    public init(position: YAMLPosition, message: String) {
        self.position = position
        self.message = message
    }

    public var line: Int { position.line }
    public var column: Int { position.column }

    /// "line:column: message"
    public var description: String { "\(position): \(message)" }
}
