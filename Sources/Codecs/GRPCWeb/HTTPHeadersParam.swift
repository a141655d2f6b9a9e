/// The `$httpHeaders` query parameter of a CORS "simple" request (the official grpc-web JS client with
/// `suppressCorsPreflight: true`; goog.net.rpc.HttpCors in the Closure library).
///
/// What such a client sends: `POST /pkg.Svc/Method?%24httpHeaders=<value>` where `<value>` is the header block
/// `Name:value\r\n` per header, the whole block percent-encoded (encodeURIComponent) as one parameter value; the
/// parameter's name is percent-encoded too (`$` becomes `%24`). The request's own content type is a CORS-safelisted
/// one (`application/x-www-form-urlencoded;charset=utf-8`), so the browser sends it without a preflight.
///
/// Pure parsing: finding the parameter in a request target, decoding and validating the block. What to do with
/// the fields (merging, which origins may use it) is the proxy's business.
public enum HTTPHeadersParam {
    public static let name = "$httpHeaders"

    /// The parameter found in a request target: its still-encoded value and the target without it.
    public struct Found: Sendable, Equatable {
        public var encodedValue: Substring
        /// `target` with the parameter (and its `&` separator) removed; the bare path when nothing else was there.
        public var remainingTarget: String
    }

    /// Finds the parameter in the query of `target` (the name compared after percent-decoding, so `$httpHeaders`
    /// and `%24httpHeaders` both match). nil when the target has no such parameter.
    public static func find(in target: String) throws(HTTPHeadersParamError) -> Found? {
        guard let question = target.utf8.firstIndex(of: UInt8(ascii: "?")) else { return nil }
        let path = target[..<question]
        let query = target[target.index(after: question)...]
        // Most queries on gRPC paths are empty or have no such parameter: test cheaply before splitting.
        guard query.utf8.count >= 12, containsHTTPHeaders(query.utf8) else { return nil }
        var found: Substring?
        var kept: [Substring] = []
        for piece in query.split(separator: "&", omittingEmptySubsequences: false) {
            let key: Substring
            let value: Substring
            if let eq = piece.utf8.firstIndex(of: UInt8(ascii: "=")) {
                key = piece[..<eq]
                value = piece[piece.index(after: eq)...]
            } else {
                key = piece
                value = ""
            }
            if isParamName(key) {
                if found != nil { throw HTTPHeadersParamError(.duplicate, "the \(name) parameter appears more than once") }
                found = value
            } else {
                kept.append(piece)
            }
        }
        guard let found else { return nil }
        let rest = kept.filter { !$0.isEmpty }
        let remaining = rest.isEmpty ? String(path) : String(path) + "?" + rest.joined(separator: "&")
        return Found(encodedValue: found, remainingTarget: remaining)
    }

    /// Decodes and checks the header block.
    /// - Parameters:
    ///   - maxEncodedSize: the largest parameter value accepted, in bytes as sent (checked before any decoding).
    ///   - maxFields: the most header lines accepted.
    /// - Returns: the fields in the order sent, names as sent (case kept), values with surrounding whitespace
    ///   trimmed.
    public static func decode(_ encoded: Substring, maxEncodedSize: Int, maxFields: Int) throws(HTTPHeadersParamError) -> [(String, String)] {
        if encoded.utf8.count > maxEncodedSize {
            throw HTTPHeadersParamError(.tooLarge, "the \(name) parameter is \(encoded.utf8.count) bytes, over the limit of \(maxEncodedSize)")
        }
        let block = try percentDecode(encoded.utf8)
        var fields: [(String, String)] = []
        var lineStart = 0
        var i = 0
        var lineNumber = 1
        while i <= block.count {
            let atEnd = i == block.count
            if !atEnd && block[i] != 0x0D && block[i] != 0x0A { i += 1; continue }
            if !atEnd {
                // Lines end with CRLF, as in an HTTP/1.1 header section; a lone CR or LF could hide a second field.
                guard block[i] == 0x0D, i + 1 < block.count, block[i + 1] == 0x0A else {
                    throw HTTPHeadersParamError(.malformed, "line \(lineNumber) of \(name) has a CR or LF that is not part of a CRLF line end")
                }
            }
            let line = block[lineStart..<i]
            if line.isEmpty {
                // Only the end of the block may be empty (after the final CRLF, or an empty value).
                guard atEnd else { throw HTTPHeadersParamError(.malformed, "line \(lineNumber) of \(name) is empty") }
            } else {
                if fields.count == maxFields {
                    throw HTTPHeadersParamError(.tooManyLines, "the \(name) parameter has more than \(maxFields) header lines")
                }
                let field = try parseLine(line, lineNumber: lineNumber)
                for existing in fields where equalsIgnoringCase(existing.0, field.0) {
                    throw HTTPHeadersParamError(.duplicate, "header \(field.0) appears more than once in \(name)")
                }
                fields.append(field)
            }
            if atEnd { break }
            i += 2
            lineStart = i
            lineNumber += 1
        }
        if fields.isEmpty { throw HTTPHeadersParamError(.malformed, "the \(name) parameter holds no header") }
        return fields
    }

    /// Why the named header may not be set through the parameter, or nil when it may: exactly what a page cannot
    /// set with `fetch` (the Fetch standard's forbidden request-header names, `proxy-*` and `sec-*`, the method
    /// override headers) plus pseudo-headers. The parameter exists to avoid a preflight; it must not also let a
    /// page set what the browser would have refused to send (Host, Cookie, Origin, framing fields).
    public static func forbiddenReason(_ name: String) -> String? {
        let lower = asciiLowercased(name)
        switch lower {
        case "accept-charset", "accept-encoding", "access-control-request-headers", "access-control-request-method",
             "connection", "content-length", "cookie", "cookie2", "date", "dnt", "expect", "host", "keep-alive",
             "origin", "referer", "set-cookie", "te", "trailer", "transfer-encoding", "upgrade", "via",
             "x-http-method", "x-http-method-override", "x-method-override":
            return "header \(name) cannot be set through \(self.name): browsers do not let pages set it"
        default:
            if lower.hasPrefix("proxy-") || lower.hasPrefix("sec-") || lower.hasPrefix("access-control-request-") {
                return "header \(name) cannot be set through \(self.name): browsers do not let pages set it"
            }
            return nil
        }
    }

    // MARK: Pieces

    private static func parseLine(_ line: ArraySlice<UInt8>, lineNumber: Int) throws(HTTPHeadersParamError) -> (String, String) {
        if line.first == UInt8(ascii: ":") {
            let end = line.dropFirst().firstIndex(of: UInt8(ascii: ":")) ?? line.endIndex
            let pseudo = String(decoding: line[line.startIndex..<end], as: UTF8.self)
            throw HTTPHeadersParamError(.forbidden, "pseudo-header \(pseudo) cannot be set through \(name)")
        }
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else {
            throw HTTPHeadersParamError(.malformed, "line \(lineNumber) of \(name) has no ':' between name and value")
        }
        let nameBytes = line[line.startIndex..<colon]
        guard !nameBytes.isEmpty, nameBytes.allSatisfy(isTokenByte) else {
            let shown = String(decoding: nameBytes, as: UTF8.self)
            throw HTTPHeadersParamError(.malformed, "line \(lineNumber) of \(name): \"\(shown)\" is not a valid header name")
        }
        var value = line[line.index(after: colon)...]
        while let f = value.first, isOWS(f) { value = value.dropFirst() }
        while let l = value.last, isOWS(l) { value = value.dropLast() }
        let fieldName = String(decoding: nameBytes, as: UTF8.self)
        if let reason = forbiddenReason(fieldName) { throw HTTPHeadersParamError(.forbidden, reason) }
        guard !value.contains(where: { ($0 < 0x20 && $0 != 0x09) || $0 == 0x7F }) else {
            throw HTTPHeadersParamError(.malformed, "header \(fieldName) in \(name) has a control character in its value")
        }
        guard let text = String(validating: value, as: UTF8.self) else {
            throw HTTPHeadersParamError(.malformed, "header \(fieldName) in \(name) has a value that is not UTF-8")
        }
        return (fieldName, text)
    }

    /// application/x-www-form-urlencoded decoding of one value: `%XX` to a byte, `+` to a space (what
    /// URLSearchParams writes; encodeURIComponent never writes a bare `+`).
    static func percentDecode(_ encoded: Substring.UTF8View) throws(HTTPHeadersParamError) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(encoded.count)
        var i = encoded.startIndex
        var offset = 0
        while i < encoded.endIndex {
            let b = encoded[i]
            if b == UInt8(ascii: "%") {
                let h1 = encoded.index(after: i)
                let h2 = h1 < encoded.endIndex ? encoded.index(after: h1) : h1
                guard h2 < encoded.endIndex, let hi = hexValue(encoded[h1]), let lo = hexValue(encoded[h2]) else {
                    throw HTTPHeadersParamError(.malformed, "malformed percent-encoding at offset \(offset) of the \(name) parameter")
                }
                out.append(hi << 4 | lo)
                i = encoded.index(after: h2)
                offset += 3
            } else {
                out.append(b == UInt8(ascii: "+") ? 0x20 : b)
                i = encoded.index(after: i)
                offset += 1
            }
        }
        return out
    }

    private static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return b - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return b - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return b - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// tchar (RFC 9110 §5.6.2).
    private static func isTokenByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"):
            return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"),
             UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
             UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    /// A query key naming the parameter: `$httpHeaders` as written, or `%24httpHeaders` as the client encodes it.
    private static func isParamName(_ key: Substring) -> Bool {
        let u = key.utf8
        if u.elementsEqual(name.utf8) { return true }
        guard u.count == name.utf8.count + 2, u.starts(with: "%24".utf8) else { return false }
        return u.dropFirst(3).elementsEqual(name.utf8.dropFirst())
    }

    /// Whether "httpHeaders" occurs in the query (the part of the name that is never percent-encoded).
    private static func containsHTTPHeaders(_ query: Substring.UTF8View) -> Bool {
        let needle = "httpHeaders".utf8
        var i = query.startIndex
        while i < query.endIndex {
            if query[i] == UInt8(ascii: "h"), query[i...].starts(with: needle) { return true }
            i = query.index(after: i)
        }
        return false
    }

    private static func equalsIgnoringCase(_ a: String, _ b: String) -> Bool {
        a.utf8.count == b.utf8.count && zip(a.utf8, b.utf8).allSatisfy { asciiLower($0) == asciiLower($1) }
    }
}

/// Why a `$httpHeaders` parameter was refused; `kind` picks the HTTP status, `message` is shown to the client.
public struct HTTPHeadersParamError: Error, Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// Bad percent-encoding, a line without ':', an invalid name or value, CR/LF misuse.
        case malformed
        /// Over the size limit.
        case tooLarge
        /// More header lines than allowed.
        case tooManyLines
        /// A name a page may not set (Host, Cookie, pseudo-headers...).
        case forbidden
        /// The parameter twice, or one header twice in it.
        case duplicate
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }
}
