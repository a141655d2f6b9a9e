internal import YAML

/// The config as the admin endpoint's `GET /config` shows it: the parsed document (after `${VAR}` substitution,
/// comments and flow style gone) written back as block YAML, with secrets replaced by `<redacted>`.
///
/// Why the parsed tree and not the decoded `ProxyConfig`: the tree is what the operator wrote, key for key, so
/// `/config` reads like their file and a new config key needs no renderer of its own. Why not the file's text:
/// `${VAR}` references would hide what is running, and a secret spread over a flow mapping is hard to blank out
/// reliably in text. Rendered once per load (start and reload), never per request.
enum RedactedYAML {
    static let placeholder = "<redacted>"

    static func render(_ root: YAMLNode) -> String {
        var out = ""
        switch root.kind {
        case .mapping(let entries) where !entries.isEmpty:
            appendMapping(entries, indent: 0, to: &out)
        default:
            out += inline(root) + "\n"
        }
        return out
    }

    // MARK: What is a secret

    /// Key names whose value is secret wherever they appear: inline credentials and header values that carry them.
    private static let secretNames: Set<String> = [
        "secret", "password", "passphrase", "token", "private_key", "authorization", "proxy-authorization", "cookie",
    ]
    private static let secretSuffixes = ["_secret", "_password", "_token", "_private_key", "-key", "-token", "-secret"]
    /// A JSON Web Key's private members (RFC 7518 §6.2.2, §6.3.2, §6.4.1), secret inside a mapping with `kty`.
    private static let privateJWKMembers: Set<String> = ["d", "p", "q", "dp", "dq", "qi", "k", "oth"]

    /// `key` next to `cert` is a private key file (listener certificates, upstream client certificates): its path
    /// is redacted too, as it tells where the key lives; certificate paths stay (they are public).
    static func isSecret(_ key: String, in entries: [YAMLMappingEntry]) -> Bool {
        let name = key.lowercased()
        if secretNames.contains(name) || secretSuffixes.contains(where: { name.hasSuffix($0) }) { return true }
        if name == "key" || name == "key_file" { return entries.contains { $0.key == "cert" || $0.key == "cert_file" } }
        if privateJWKMembers.contains(key) { return entries.contains { $0.key == "kty" } }
        return false
    }

    // MARK: Block style

    private static func appendMapping(_ entries: [YAMLMappingEntry], indent: Int, to out: inout String) {
        let pad = String(repeating: " ", count: indent)
        for entry in entries {
            out += pad + keyText(entry.key) + ":"
            if isSecret(entry.key, in: entries) {
                out += " " + quoted(placeholder) + "\n"
            } else {
                appendValue(entry.value, indent: indent + 2, to: &out)
            }
        }
    }

    private static func appendSequence(_ items: [YAMLNode], indent: Int, to out: inout String) {
        let pad = String(repeating: " ", count: indent)
        for item in items {
            // A collection item is written as a block at indent + 2, whose first line's indentation becomes "- ".
            var block = ""
            switch item.kind {
            case .mapping(let entries) where !entries.isEmpty: appendMapping(entries, indent: indent + 2, to: &block)
            case .sequence(let inner) where !inner.isEmpty: appendSequence(inner, indent: indent + 2, to: &block)
            default:
                out += pad + "- " + inline(item) + "\n"
                continue
            }
            out += pad + "- " + block.dropFirst(indent + 2)
        }
    }

    /// After `key:`: a scalar or empty collection on the same line, a collection on the lines below.
    private static func appendValue(_ node: YAMLNode, indent: Int, to out: inout String) {
        switch node.kind {
        case .mapping(let entries) where !entries.isEmpty:
            out += "\n"
            appendMapping(entries, indent: indent, to: &out)
        case .sequence(let items) where !items.isEmpty:
            out += "\n"
            appendSequence(items, indent: indent, to: &out)
        default:
            out += " " + inline(node) + "\n"
        }
    }

    private static func inline(_ node: YAMLNode) -> String {
        switch node.kind {
        case .null: return "null"
        case .mapping: return "{}"
        case .sequence: return "[]"
        case .scalar(let text, let style):
            // A plain scalar stays plain (so `30`, `true`, `30s` read back as the file's), when that is safe.
            return style == .plain && isSafePlain(text) ? text : quoted(text)
        }
    }

    private static func keyText(_ key: String) -> String {
        let simple = !key.isEmpty && key.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || ((byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x7A)
                || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "/")
        }
        return simple && key.utf8.first != UInt8(ascii: "-") ? key : quoted(key)
    }

    /// Text that a YAML reader would take back unchanged as a plain scalar in block context.
    private static func isSafePlain(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, let last = text.unicodeScalars.last else { return false }
        if "?:,[]{}#&*!|>'\"%@`".unicodeScalars.contains(first) { return false }
        if first == " " || last == " " || last == ":" || text == "-" || text.hasPrefix("- ") { return false }
        if text.contains(": ") || text.contains(" #") { return false }
        return text.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value != 0x7F }
    }

    /// A double-quoted scalar: backslash, quote and control characters escaped.
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    let hex = String(scalar.value, radix: 16, uppercase: true)
                    out += "\\x" + (hex.count < 2 ? "0" + hex : hex)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
