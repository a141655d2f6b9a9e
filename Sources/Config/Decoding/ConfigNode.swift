internal import YAML

/// A YAML node being decoded, together with its key path and file name, so every conversion
/// can fail with an error that points at the right place.
struct ConfigNode {
    let node: YAMLNode
    let path: String
    let file: String

    var position: YAMLPosition { node.position }

    func error(_ message: String) -> ConfigError {
        ConfigError(file: file, line: node.position.line, column: node.position.column, path: path, message: message)
    }

    func child(_ node: YAMLNode, path: String) -> ConfigNode {
        ConfigNode(node: node, path: path, file: file)
    }

    // MARK: Structure

    func mapping(knownKeys: [String]) throws(ConfigError) -> ConfigMapping {
        try ConfigMapping(self, knownKeys: knownKeys)
    }

    func sequence() throws(ConfigError) -> [ConfigNode] {
        guard case .sequence(let items) = node.kind else {
            throw error("expected a sequence, got \(node.kindDescription)")
        }
        var result: [ConfigNode] = []
        result.reserveCapacity(items.count)
        for (index, item) in items.enumerated() {
            result.append(child(item, path: "\(path)[\(index)]"))
        }
        return result
    }

    // MARK: Scalars

    /// The text of a scalar, quoted or not; anything else is a type error naming `expected`.
    func scalarText(expected: String) throws(ConfigError) -> String {
        guard case .scalar(let text, _) = node.kind else {
            throw error("expected \(expected), got \(node.kindDescription)")
        }
        return text
    }

    func string() throws(ConfigError) -> String {
        try scalarText(expected: "a string")
    }

    func nonEmptyString() throws(ConfigError) -> String {
        let text = try string()
        if text.isEmpty { throw error("must not be empty") }
        return text
    }

    func stringList() throws(ConfigError) -> [String] {
        var result: [String] = []
        for item in try sequence() {
            result.append(try item.string())
        }
        return result
    }

    /// Only `true` and `false`: YAML 1.1's `yes`/`on` are too easy to write by accident.
    func bool() throws(ConfigError) -> Bool {
        let text = try scalarText(expected: "true or false")
        switch text {
        case "true": return true
        case "false": return false
        default: throw error("expected true or false, got \"\(text)\"")
        }
    }

    func integer(in range: ClosedRange<Int>) throws(ConfigError) -> Int {
        let text = try scalarText(expected: "an integer")
        let value: Int
        do {
            value = try IntegerSyntax.parse(text)
        } catch .tooLarge {
            throw error(ConfigNode.rangeMessage(range, format: { "\($0)" }))
        } catch {
            throw self.error("expected an integer, got \"\(text)\"")
        }
        try check(value, in: range, format: { "\($0)" })
        return value
    }

    func size(in range: ClosedRange<Int>) throws(ConfigError) -> Int {
        let text = try scalarText(expected: "a size")
        let value: Int
        do {
            value = try ByteSizeSyntax.parse(text)
        } catch .negative {
            throw error("must not be negative")
        } catch .tooLarge {
            throw error(ConfigNode.rangeMessage(range, format: ByteSizeSyntax.format))
        } catch {
            throw self.error("invalid size \"\(text)\" (expected a byte count or a size such as 64KiB, 4MiB, 1GiB)")
        }
        try check(value, in: range, format: ByteSizeSyntax.format)
        return value
    }

    /// `allowZero: false` for timers whose zero would mean "fire immediately forever".
    func duration(allowZero: Bool = true) throws(ConfigError) -> Duration {
        let text = try scalarText(expected: "a duration")
        let value: Duration
        do {
            value = try DurationSyntax.parse(text)
        } catch .negative {
            throw error("must not be negative")
        } catch .tooLarge {
            throw error("duration \"\(text)\" is too large")
        } catch {
            throw self.error("invalid duration \"\(text)\" (expected a number with a unit: 250ms, 30s, 1.5s, 5m, 1h)")
        }
        if !allowZero && value == .zero { throw error("must be greater than 0") }
        if value > ConfigBounds.maxDuration {
            throw error("must be at most \(DurationSyntax.format(ConfigBounds.maxDuration)) (365 days)")
        }
        return value
    }

    /// One of a fixed set of words; suggests the closest when it is a near miss.
    func choice(_ options: [String], what: String) throws(ConfigError) -> String {
        let text = try scalarText(expected: what)
        guard options.contains(text) else {
            var message = "invalid \(what) \"\(text)\" (expected \(ConfigNode.list(options)))"
            if let suggestion = KeySuggestion.nearest(to: text, in: options) {
                message += "; did you mean \"\(suggestion)\"?"
            }
            throw error(message)
        }
        return text
    }

    /// - Parameter allowPortZero: listeners may bind port 0 (tests); upstream endpoints may not.
    func address(allowPortZero: Bool) throws(ConfigError) -> SocketAddressSpec {
        guard case .scalar(let text, _) = node.kind else {
            throw error("expected an address such as \"127.0.0.1:8080\", got \(node.kindDescription) (write IPv6 addresses in quotes: \"[::1]:8080\")")
        }
        let address: SocketAddressSpec
        do {
            address = try SocketAddressSpec(parsing: text)
        } catch {
            throw self.error(error.message)
        }
        if address.port == 0 && !allowPortZero {
            throw error("invalid address \"\(text)\": port must be from 1 to 65535")
        }
        return address
    }

    // MARK: Helpers

    func check(_ value: Int, in range: ClosedRange<Int>, format: (Int) -> String) throws(ConfigError) {
        if !range.contains(value) {
            throw error(ConfigNode.rangeMessage(range, format: format))
        }
    }

    static func rangeMessage(_ range: ClosedRange<Int>, format: (Int) -> String) -> String {
        if range.upperBound == Int.max {
            return range.lowerBound == 1 ? "must be greater than 0" : "must be at least \(format(range.lowerBound))"
        }
        return "must be between \(format(range.lowerBound)) and \(format(range.upperBound))"
    }

    /// "a, b or c"
    static func list(_ words: [String]) -> String {
        guard words.count > 1 else { return words.first ?? "" }
        return words.dropLast().joined(separator: ", ") + " or " + words[words.count - 1]
    }
}
