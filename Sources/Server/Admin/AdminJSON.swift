import EventLoop

/// A JSON value, for the admin endpoint's answers (`/clusters`, `/listeners`, `/stats.json`). Built once per
/// admin request, so clarity wins over speed; object keys keep the order they were written in.
indirect enum AdminJSON {
    case object([(String, AdminJSON)])
    case array([AdminJSON])
    case string(String)
    case int(Int)
    case double(Double)
    case bool(Bool)
    case null

    /// Milliseconds, as a number with at most microsecond precision.
    static func milliseconds(_ d: Duration) -> AdminJSON { .double(Double(d.nanoseconds / 1000) / 1000) }

    static func optional<T>(_ value: T?, _ make: (T) -> AdminJSON) -> AdminJSON {
        value.map(make) ?? .null
    }

    func render() -> String {
        var out = ""
        write(to: &out)
        out += "\n"
        return out
    }

    private func write(to out: inout String) {
        switch self {
        case .object(let members):
            out += "{"
            for (i, (key, value)) in members.enumerated() {
                if i > 0 { out += "," }
                Self.writeString(key, to: &out)
                out += ":"
                value.write(to: &out)
            }
            out += "}"
        case .array(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                item.write(to: &out)
            }
            out += "]"
        case .string(let s): Self.writeString(s, to: &out)
        case .int(let v): out += String(v)
        case .double(let v): out += v.isFinite ? String(v) : "null"
        case .bool(let v): out += v ? "true" : "false"
        case .null: out += "null"
        }
    }

    /// RFC 8259 §7: quote, backslash and control characters escaped; `<`, `>` and `&` too, so a value (a
    /// grpc-message from an upstream) can never close a `<script>` if someone inlines the JSON into HTML.
    private static func writeString(_ s: String, to out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "<", ">", "&", "\u{2028}", "\u{2029}": out += unicodeEscape(scalar.value)
            default:
                if scalar.value < 0x20 { out += unicodeEscape(scalar.value) } else { out.unicodeScalars.append(scalar) }
            }
        }
        out += "\""
    }

    private static func unicodeEscape(_ value: UInt32) -> String {
        let hex = String(value, radix: 16)
        return "\\u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }
}
