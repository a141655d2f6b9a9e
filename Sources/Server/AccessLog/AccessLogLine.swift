import Config
import Glibc
import Proxy

/// Formats one `CallSummary` as an access-log line (JSON object or the configured format string), appended to a
/// byte buffer without intermediate strings. Runs on the worker that finished the call, so it is kept to plain
/// byte appends; the start time's date part is cached per second.
struct AccessLogLine {
    let format: AccessLogConfig.Format
    private var cachedSecond: Int64 = -1
    /// `2026-12-01T20:32:40.` for `cachedSecond`.
    private var cachedPrefix: [UInt8] = []

    init(format: AccessLogConfig.Format) {
        self.format = format
    }

    /// `{"start_time":`, `,"duration_ms":`...: each field's key with what precedes it, built once.
    private static let jsonKeys: [(AccessLogField, [UInt8])] = AccessLogField.allCases.enumerated().map { i, field in
        (field, Array(((i == 0 ? "{" : ",") + "\"" + field.rawValue + "\":").utf8))
    }

    mutating func append(_ s: CallSummary, to out: inout [UInt8]) {
        switch format {
        case .json:
            for (field, key) in Self.jsonKeys {
                out.append(contentsOf: key)
                appendValue(field, of: s, json: true, to: &out)
            }
            out.append(UInt8(ascii: "}"))
        case .pieces(let pieces):
            for piece in pieces {
                switch piece {
                case .literal(let text): out.append(contentsOf: text.utf8)
                case .field(let field): appendValue(field, of: s, json: false, to: &out)
                }
            }
        }
        out.append(UInt8(ascii: "\n"))
    }

    private mutating func appendValue(_ field: AccessLogField, of s: CallSummary, json: Bool, to out: inout [UInt8]) {
        switch field {
        case .startTime:
            if json { out.append(UInt8(ascii: "\"")) }
            appendTime(s.startUnixNanos, to: &out)
            if json { out.append(UInt8(ascii: "\"")) }
        case .durationMs:
            let micros = Int(s.durationNanos / 1000)
            Self.appendDecimal(micros / 1000, to: &out)
            out.append(UInt8(ascii: "."))
            let frac = micros % 1000
            if frac < 100 { out.append(UInt8(ascii: "0")) }
            if frac < 10 { out.append(UInt8(ascii: "0")) }
            Self.appendDecimal(frac, to: &out)
        case .listener: appendText(s.listener, json: json, to: &out)
        case .route: appendText(s.route, json: json, to: &out)
        case .cluster: appendText(s.cluster, json: json, to: &out)
        case .upstream: appendText(s.endpoint, json: json, to: &out)
        case .path: appendText(s.path, json: json, to: &out)
        case .transport: appendText(s.transport.rawValue, json: json, to: &out)
        case .httpVersion: appendText(s.httpVersion, json: json, to: &out)
        case .grpcStatus: Self.appendDecimal(s.grpcStatus, to: &out)
        case .grpcMessage: appendText(s.grpcMessage, json: json, to: &out)
        case .requestBytes: Self.appendDecimal(s.requestBytes, to: &out)
        case .responseBytes: Self.appendDecimal(s.responseBytes, to: &out)
        case .requestMessages: Self.appendDecimal(s.requestMessages, to: &out)
        case .responseMessages: Self.appendDecimal(s.responseMessages, to: &out)
        case .downstreamAddress: appendText(s.downstreamAddress, json: json, to: &out)
        case .userAgent: appendText(s.userAgent, json: json, to: &out)
        case .requestID: appendText(s.requestID, json: json, to: &out)
        case .traceID: appendText(s.traceID, json: json, to: &out)
        }
    }

    /// JSON: a quoted, escaped string. Format strings: the text with control characters replaced by `?` (a
    /// client-chosen user agent must not forge log lines), `-` when empty.
    private func appendText(_ text: String, json: Bool, to out: inout [UInt8]) {
        if json {
            out.append(UInt8(ascii: "\""))
            Self.appendJSONEscaped(text, to: &out)
            out.append(UInt8(ascii: "\""))
            return
        }
        if text.isEmpty { out.append(UInt8(ascii: "-")); return }
        if Self.appendIfClean(text, to: &out, json: false) { return }
        for b in text.utf8 { out.append(b < 0x20 || b == 0x7F ? UInt8(ascii: "?") : b) }
    }

    static func appendJSONEscaped(_ text: String, to out: inout [UInt8]) {
        if appendIfClean(text, to: &out, json: true) { return }
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        for b in text.utf8 {
            switch b {
            case UInt8(ascii: "\""): out.append(contentsOf: [0x5C, 0x22])
            case UInt8(ascii: "\\"): out.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: out.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            case 0..<0x20, 0x7F:
                out.append(contentsOf: "\\u00".utf8)
                out.append(hex[Int(b >> 4)])
                out.append(hex[Int(b & 0xF)])
            default: out.append(b)
            }
        }
    }

    /// Nearly every value needs no escape: checked and copied whole from the string's contiguous bytes. False
    /// (nothing appended) when some byte needs care.
    private static func appendIfClean(_ text: String, to out: inout [UInt8], json: Bool) -> Bool {
        var text = text
        return text.withUTF8 { bytes in
            for b in bytes where b < 0x20 || b == 0x7F || (json && (b == 0x22 || b == 0x5C)) { return false }
            out.append(contentsOf: bytes)
            return true
        }
    }

    static func appendDecimal(_ value: Int, to out: inout [UInt8]) {
        if value < 0 { out.append(UInt8(ascii: "-")); appendDecimal(0 &- value, to: &out); return }
        if value < 10 { out.append(UInt8(truncatingIfNeeded: 0x30 + value)); return }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var n = value, count = 0
        withUnsafeMutableBytes(of: &digits) { d in
            while n > 0 { d[count] = UInt8(truncatingIfNeeded: 0x30 + n % 10); n /= 10; count += 1 }
            for i in stride(from: count - 1, through: 0, by: -1) { out.append(d[i]) }
        }
    }

    /// RFC 3339 in UTC with milliseconds: `2026-12-01T20:32:40.123Z`.
    private mutating func appendTime(_ unixNanos: Int64, to out: inout [UInt8]) {
        let second = unixNanos / 1_000_000_000
        if second != cachedSecond {
            cachedSecond = second
            var t = time_t(second)
            var parts = tm()
            gmtime_r(&t, &parts)
            var prefix: [UInt8] = []
            func two(_ v: Int32) { prefix.append(UInt8(0x30 + v / 10)); prefix.append(UInt8(0x30 + v % 10)) }
            Self.appendDecimal(Int(parts.tm_year) + 1900, to: &prefix)
            prefix.append(UInt8(ascii: "-")); two(parts.tm_mon + 1)
            prefix.append(UInt8(ascii: "-")); two(parts.tm_mday)
            prefix.append(UInt8(ascii: "T")); two(parts.tm_hour)
            prefix.append(UInt8(ascii: ":")); two(parts.tm_min)
            prefix.append(UInt8(ascii: ":")); two(parts.tm_sec)
            prefix.append(UInt8(ascii: "."))
            cachedPrefix = prefix
        }
        out.append(contentsOf: cachedPrefix)
        let ms = Int((unixNanos % 1_000_000_000) / 1_000_000)
        out.append(UInt8(0x30 + ms / 100)); out.append(UInt8(0x30 + ms / 10 % 10)); out.append(UInt8(0x30 + ms % 10))
        out.append(UInt8(ascii: "Z"))
    }
}
