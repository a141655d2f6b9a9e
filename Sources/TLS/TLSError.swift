internal import COpenSSL

/// A TLS setup problem (a certificate, key or CA file OpenSSL refused), saying which input it came from so the
/// config layer can point at the right key.
public struct TLSSetupError: Error, Sendable, CustomStringConvertible {
    public enum Input: Sendable, Equatable {
        /// `certificates[index]` of a listener (0 = the section's own `cert`), or a cluster's client certificate.
        case certificate(index: Int)
        case key(index: Int)
        /// A listener's `client_ca` or a cluster's `ca`.
        case caBundle
        /// The context as a whole (out of memory, an OpenSSL setting refused).
        case context
    }

    public var input: Input
    public var message: String

    public init(_ input: Input, _ message: String) {
        self.input = input
        self.message = message
    }

    public var description: String { message }
}

/// OpenSSL's thread-local error queue, read into a message. Every TLS call starts from an empty queue
/// (`clear()`), so what is there after a failure belongs to that call and not to another connection.
enum OpenSSLErrorQueue {
    static func clear() { ERR_clear_error() }

    /// The reasons queued since the last `clear()`, oldest first, joined by "; " (e.g. "wrong version number");
    /// the queue is left empty. nil when nothing was queued.
    static func drain() -> String? {
        var reasons: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            if reasons.count >= 4 { continue }
            if let reason = ERR_reason_error_string(code) {
                let text = String(cString: reason)
                if !reasons.contains(text) { reasons.append(text) }
            } else {
                var buffer = [CChar](repeating: 0, count: 256)
                ERR_error_string_n(code, &buffer, buffer.count)
                let text = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
                reasons.append(String(decoding: text, as: UTF8.self))
            }
        }
        return reasons.isEmpty ? nil : reasons.joined(separator: "; ")
    }

    static func message(or fallback: String) -> String { drain() ?? fallback }
}
