/// A configuration problem, pointing at the file position and the key path that caused it.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    /// 1-based; 0 when the problem has no position (the file could not be read).
    public var line: Int
    public var column: Int
    /// Key path such as "listeners[0].routes[1].cluster"; empty for syntax errors and the root.
    public var path: String
    /// What is wrong, e.g. `unknown cluster "bakend"`.
    public var message: String

    public init(file: String, line: Int, column: Int, path: String, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.path = path
        self.message = message
    }

    /// "file:line:column: path: message", leaving out the parts that are empty.
    public var description: String {
        var text = file
        if line > 0 { text += ":\(line):\(column)" }
        text += ": "
        if !path.isEmpty { text += path + ": " }
        return text + message
    }
}
