/// A parsed JSON value. Numbers keep their text as well as a `Double`, so an integer claim such as `exp` or a
/// large id is forwarded exactly as the token wrote it rather than through floating point.
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(JSONNumber)
    case string(String)
    case array([JSONValue])
    /// Members in document order; a name written twice is refused by the parser (RFC 7515 §5.2 asks JOSE
    /// parsers to reject or take the last; rejecting is the safe choice for a token).
    case object([(String, JSONValue)])

    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.number(let a), .number(let b)): return a == b
        case (.string(let a), .string(let b)): return a == b
        case (.array(let a), .array(let b)): return a == b
        case (.object(let a), .object(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    /// A member of an object by name; nil for a missing member or a value that is not an object.
    public subscript(_ name: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.0 == name }?.1
    }

    public var stringValue: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    public var numberValue: JSONNumber? {
        if case .number(let number) = self { return number }
        return nil
    }
}

/// A JSON number: its text as written and its value as a Double.
public struct JSONNumber: Sendable, Equatable {
    public let text: String
    public let value: Double

    /// The value as a whole number when it is one and fits (`1700000000`, `1.7e9`); nil for `1.5`.
    public var integer: Int64? {
        guard value.isFinite, value == value.rounded(.towardZero), abs(value) < 9.0e18 else { return nil }
        return Int64(value)
    }
}
