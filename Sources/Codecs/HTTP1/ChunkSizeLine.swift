/// Incremental parser for one chunk-size line: `chunk-size [ chunk-ext ] CRLF` (RFC 9112 §7.1).
/// It keeps only the running size, so nothing is buffered however the line is split.
/// Extensions (`;name=value`) are checked for forbidden control bytes and otherwise ignored.
struct ChunkSizeLine: Sendable {
    private enum Phase: UInt8, Sendable {
        case digits
        case whitespace   // BWS after the size, only allowed before ';'
        case extensions
        case cr
    }

    private var phase = Phase.digits
    private(set) var size = 0
    private var digits = 0
    private var lineBytes = 0

    /// Consumes bytes from `bytes[position...]`, advancing `position`. Returns true once the line's
    /// LF has been consumed (`size` is then final), false if more input is needed.
    mutating func consume(_ bytes: UnsafeRawBufferPointer, _ position: inout Int, maxLineBytes: Int) throws(HTTP1ParseError) -> Bool {
        let end = bytes.count
        var i = position
        defer { position = i }
        while i < end {
            let b = bytes[i]
            i += 1
            lineBytes += 1
            guard lineBytes <= maxLineBytes else { throw .badRequest("chunk size line too long") }
            switch phase {
            case .digits:
                if let value = ASCII.hexValue(b) {
                    guard size <= Int.max >> 4 else { throw .badRequest("chunk size overflows") }
                    size = size << 4 | value
                    digits += 1
                    continue
                }
                guard digits > 0 else { throw .badRequest("invalid chunk size") }
                switch b {
                case ASCII.semicolon: phase = .extensions
                case ASCII.sp, ASCII.htab: phase = .whitespace
                case ASCII.cr: phase = .cr
                default: throw .badRequest("invalid chunk size")
                }
            case .whitespace:
                switch b {
                case ASCII.sp, ASCII.htab: break
                case ASCII.semicolon: phase = .extensions
                default: throw .badRequest("invalid chunk size")
                }
            case .extensions:
                if b == ASCII.cr {
                    phase = .cr
                } else if !ASCII.isFieldValueChar(b) {
                    throw .badRequest(b == ASCII.lf ? "bare LF line terminator" : "invalid character in chunk extension")
                }
            case .cr:
                guard b == ASCII.lf else { throw .badRequest("bare CR") }
                return true
            }
        }
        return false
    }
}
