/// Parses a complete, contiguous request head (request line through the blank line) whose line
/// endings `BlockScanner` has already validated: every CR is followed by LF, there is no bare LF,
/// and the block ends with an empty line. Strings are built once per field, straight from the bytes.
enum HeadParser {
    static func parseRequestHead(_ bytes: UnsafeRawBufferPointer, limits: HTTP1Limits) throws(HTTP1ParseError) -> HTTPRequestHead {
        let lineEnd = endOfLine(bytes, from: 0)
        let line = try parseRequestLine(bytes, 0..<lineEnd)

        var headers = HTTPHeaders(reservingCapacity: 16)
        var framing = FramingFields()
        var position = lineEnd + 2
        while true {
            let end = endOfLine(bytes, from: position)
            if end == position { break }
            let field = try parseFieldLine(bytes, position..<end)
            guard headers.count < limits.maxHeaderCount else {
                throw .headersTooLarge("too many header fields")
            }
            try framing.observe(bytes, field)
            headers.add(name: string(bytes, field.name), value: string(bytes, field.value))
            position = end + 2
        }

        let bodyKind = try framing.bodyKind(versionMinor: line.versionMinor, limits: limits)
        if framing.hostCount > 1 { throw .badRequest("multiple Host header fields") }
        if framing.hostCount == 0 && line.versionMinor == 1 { throw .badRequest("missing Host header") }

        let target = string(bytes, line.target)
        let path = line.query == nil ? target : string(bytes, line.target.lowerBound..<line.query!)
        let keepAlive = line.versionMinor == 1
            ? !framing.connectionClose
            : framing.connectionKeepAlive && !framing.connectionClose
        return HTTPRequestHead(
            method: string(bytes, line.method), target: target, path: path, versionMinor: line.versionMinor,
            headers: headers, keepAlive: keepAlive,
            isUpgrade: line.versionMinor == 1 && framing.connectionUpgrade && framing.hasUpgrade,
            bodyKind: bodyKind)
    }

    /// Validates a trailer section (field lines then the blank line) and discards it.
    static func validateTrailers(_ bytes: UnsafeRawBufferPointer, limits: HTTP1Limits) throws(HTTP1ParseError) {
        var position = 0
        var count = 0
        while true {
            let end = endOfLine(bytes, from: position)
            if end == position { return }
            _ = try parseFieldLine(bytes, position..<end)
            count += 1
            guard count <= limits.maxHeaderCount else { throw .headersTooLarge("too many trailer fields") }
            position = end + 2
        }
    }

    // MARK: - Lines

    struct RequestLine {
        var method: Range<Int>
        var target: Range<Int>
        var query: Int?          // index of the first '?' in the target
        var versionMinor: Int
    }

    /// `method SP request-target SP HTTP-version`, single spaces only (RFC 9112 §3: no
    /// whitespace-splitting autocorrection).
    static func parseRequestLine(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) throws(HTTP1ParseError) -> RequestLine {
        var i = range.lowerBound
        let end = range.upperBound
        while i < end && ASCII.isTokenChar(bytes[i]) { i += 1 }
        guard i > range.lowerBound else { throw .badRequest("invalid method") }
        guard i < end && bytes[i] == ASCII.sp else { throw .badRequest("invalid method") }
        let method = range.lowerBound..<i
        i += 1

        let targetStart = i
        var query: Int?
        while i < end && ASCII.isTargetChar(bytes[i]) {
            if query == nil && bytes[i] == ASCII.question { query = i }
            i += 1
        }
        guard i > targetStart else { throw .badRequest("empty request-target") }
        guard i < end else { throw .badRequest("missing HTTP version") }
        guard bytes[i] == ASCII.sp else { throw .badRequest("invalid character in request-target") }
        let target = targetStart..<i
        i += 1

        // HTTP-version = "HTTP/" DIGIT "." DIGIT (case-sensitive).
        guard end - i == 8,
              bytes[i] == 0x48, bytes[i + 1] == 0x54, bytes[i + 2] == 0x54, bytes[i + 3] == 0x50,
              bytes[i + 4] == 0x2F, bytes[i + 6] == 0x2E,
              let major = decimalDigit(bytes[i + 5]), let minor = decimalDigit(bytes[i + 7])
        else { throw .badRequest("malformed HTTP version") }
        // The HTTP/2 connection preface ("PRI * HTTP/2.0") lands here too and gets a 505.
        guard major == 1 && minor <= 1 else { throw .versionNotSupported("HTTP version not supported") }
        return RequestLine(method: method, target: target, query: query, versionMinor: minor)
    }

    struct FieldLine {
        var name: Range<Int>
        var value: Range<Int>
    }

    /// `field-name ":" OWS field-value OWS` (RFC 9112 §5). The value comes back trimmed.
    static func parseFieldLine(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) throws(HTTP1ParseError) -> FieldLine {
        let start = range.lowerBound, end = range.upperBound
        // A line starting with whitespace continues the previous one (obs-fold, RFC 9112 §5.2).
        if ASCII.isWhitespace(bytes[start]) { throw .badRequest("obsolete line folding") }
        var i = start
        while i < end && ASCII.isTokenChar(bytes[i]) { i += 1 }
        guard i < end && bytes[i] == ASCII.colon else {
            if i < end && ASCII.isWhitespace(bytes[i]) { throw .badRequest("whitespace before colon in header field") }
            if i == end { throw .badRequest("header field without colon") }
            throw .badRequest("invalid character in header name")
        }
        guard i > start else { throw .badRequest("empty header name") }
        let name = start..<i
        i += 1
        while i < end && ASCII.isWhitespace(bytes[i]) { i += 1 }
        let valueStart = i
        var valueEnd = i
        while i < end {
            let b = bytes[i]
            i += 1
            if b > ASCII.sp && b != 0x7F {
                valueEnd = i
            } else if !ASCII.isFieldValueChar(b) {
                throw .badRequest(b == 0 ? "NUL in header value" : "control character in header value")
            }
        }
        return FieldLine(name: name, value: valueStart..<valueEnd)
    }

    // MARK: - Helpers

    /// Index of the CR ending the line that starts at `start`. The scanner guarantees one exists.
    @inline(__always)
    static func endOfLine(_ bytes: UnsafeRawBufferPointer, from start: Int) -> Int {
        var i = start
        while bytes[i] != ASCII.cr { i += 1 }
        return i
    }

    @inline(__always)
    static func decimalDigit(_ b: UInt8) -> Int? {
        b >= 0x30 && b <= 0x39 ? Int(b - 0x30) : nil
    }

    @inline(__always)
    static func string(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> String {
        // Non-UTF-8 obs-text bytes in a value become U+FFFD; nothing we route on can contain them.
        String(decoding: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self)
    }
}
