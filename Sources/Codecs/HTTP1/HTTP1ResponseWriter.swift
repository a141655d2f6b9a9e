/// Serialises HTTP/1.1 response heads and chunked-body framing into a caller-owned byte array.
///
/// Header fields usually carry upstream data (gRPC metadata), so a field that could split the
/// response is never written: a name that is not a token, or a value with CR, LF, NUL or another
/// control byte (HTAB excepted), is skipped.
public enum HTTP1ResponseWriter {
    public static let chunkTrailer: [UInt8] = [ASCII.cr, ASCII.lf]
    public static let lastChunk: [UInt8] = Array("0\r\n\r\n".utf8)

    /// "HTTP/1.1 <status> <reason>\r\n" + "name: value\r\n"... + "\r\n".
    /// `status` must be a three-digit code.
    public static func writeHead(status: Int, headers: [(String, String)], into out: inout [UInt8]) {
        var estimate = 40
        for (n, v) in headers { estimate += n.utf8.count + v.utf8.count + 4 }
        out.reserveCapacity(out.count + estimate)
        writeStatusLine(status, into: &out)
        for (name, value) in headers { writeField(name, value, into: &out) }
        out.append(contentsOf: chunkTrailer)
    }

    /// Same as above with an `HTTPHeaders` list.
    public static func writeHead(status: Int, headers: HTTPHeaders, into out: inout [UInt8]) {
        writeStatusLine(status, into: &out)
        for field in headers { writeField(field.name, field.value, into: &out) }
        out.append(contentsOf: chunkTrailer)
    }

    public static func reasonPhrase(_ status: Int) -> String {
        switch status {
        case 100: "Continue"
        case 101: "Switching Protocols"
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted"
        case 204: "No Content"
        case 206: "Partial Content"
        case 301: "Moved Permanently"
        case 302: "Found"
        case 303: "See Other"
        case 304: "Not Modified"
        case 307: "Temporary Redirect"
        case 308: "Permanent Redirect"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 406: "Not Acceptable"
        case 408: "Request Timeout"
        case 409: "Conflict"
        case 411: "Length Required"
        case 413: "Content Too Large"
        case 414: "URI Too Long"
        case 415: "Unsupported Media Type"
        case 417: "Expectation Failed"
        case 426: "Upgrade Required"
        case 429: "Too Many Requests"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        case 505: "HTTP Version Not Supported"
        default: "Unknown"
        }
    }

    /// "<hex length>\r\n". `length` must be positive: a zero-length chunk would end the body.
    /// The caller appends the data and then `chunkTrailer`.
    public static func writeChunkHeader(length: Int, into out: inout [UInt8]) {
        precondition(length > 0, "a zero-length chunk is the last-chunk; use lastChunk")
        var digits = 0
        var rest = length
        while rest > 0 { digits += 1; rest >>= 4 }
        for shift in stride(from: (digits - 1) * 4, through: 0, by: -4) {
            let nibble = UInt8(truncatingIfNeeded: length >> shift) & 0xF
            out.append(nibble < 10 ? 0x30 + nibble : 0x61 + nibble - 10)
        }
        out.append(contentsOf: chunkTrailer)
    }

    /// Chunk header + data + CRLF in one go. Empty data writes nothing (it would end the body).
    public static func writeChunk(_ data: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        guard !data.isEmpty else { return }
        out.reserveCapacity(out.count + data.count + 20)
        writeChunkHeader(length: data.count, into: &out)
        out.append(contentsOf: data)
        out.append(contentsOf: chunkTrailer)
    }

    // MARK: - Private

    private static func writeStatusLine(_ status: Int, into out: inout [UInt8]) {
        precondition((100...999).contains(status), "status must be a three-digit code")
        out.append(contentsOf: "HTTP/1.1 ".utf8)
        out.append(0x30 + UInt8(status / 100))
        out.append(0x30 + UInt8(status / 10 % 10))
        out.append(0x30 + UInt8(status % 10))
        out.append(ASCII.sp)
        out.append(contentsOf: reasonPhrase(status).utf8)
        out.append(contentsOf: chunkTrailer)
    }

    /// Validates and appends one field in a single pass over contiguous UTF-8 (String views iterated byte by
    /// byte showed up in per-call profiles).
    private static func writeField(_ name: String, _ value: String, into out: inout [UInt8]) {
        var name = name
        var value = value
        name.withUTF8 { n in
            value.withUTF8 { v in
                guard !n.isEmpty, n.allSatisfy(ASCII.isTokenChar), v.allSatisfy(ASCII.isFieldValueChar) else { return }
                out.append(contentsOf: n)
                out.append(ASCII.colon)
                out.append(ASCII.sp)
                out.append(contentsOf: v)
                out.append(ASCII.cr)
                out.append(ASCII.lf)
            }
        }
    }
}
