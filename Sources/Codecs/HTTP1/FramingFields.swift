/// What the header fields say about message framing and the connection, gathered while the head
/// is parsed (straight from the bytes, before any String exists) and judged once at the end.
struct FramingFields {
    var contentLength: Int?
    var transferEncodingSeen = false
    var transferCodings = 0
    var lastCodingIsChunked = false
    var chunkedNotLast = false
    var unknownCoding = false
    var connectionClose = false
    var connectionKeepAlive = false
    var connectionUpgrade = false
    var hasUpgrade = false
    var hostCount = 0

    mutating func observe(_ bytes: UnsafeRawBufferPointer, _ field: HeadParser.FieldLine) throws(HTTP1ParseError) {
        let name = field.name
        // Dispatch on length first: most fields are none of these and fail this one comparison.
        switch name.count {
        case 4 where ASCII.equalsLowercase(bytes, name, "host"):
            hostCount += 1
        case 7 where ASCII.equalsLowercase(bytes, name, "upgrade"):
            if !field.value.isEmpty { hasUpgrade = true }
        case 10 where ASCII.equalsLowercase(bytes, name, "connection"):
            var elements = ListElements(bytes, field.value)
            while let element = elements.next() {
                if ASCII.equalsLowercase(bytes, element, "close") { connectionClose = true }
                else if ASCII.equalsLowercase(bytes, element, "keep-alive") { connectionKeepAlive = true }
                else if ASCII.equalsLowercase(bytes, element, "upgrade") { connectionUpgrade = true }
            }
        case 14 where ASCII.equalsLowercase(bytes, name, "content-length"):
            try observeContentLength(bytes, field.value)
        case 17 where ASCII.equalsLowercase(bytes, name, "transfer-encoding"):
            transferEncodingSeen = true
            var elements = ListElements(bytes, field.value)
            while let element = elements.next() {
                // Empty list elements must be ignored (RFC 9110 §5.6.1).
                if element.isEmpty { continue }
                if lastCodingIsChunked { chunkedNotLast = true }
                lastCodingIsChunked = ASCII.equalsLowercase(bytes, element, "chunked")
                if !lastCodingIsChunked { unknownCoding = true }
                transferCodings += 1
            }
        default:
            break
        }
    }

    /// Content-Length = 1*DIGIT. Several fields, or a comma list ("5, 5"), are accepted only when
    /// every element is a valid number and all are equal (RFC 9110 §8.6 lets a recipient do so);
    /// an empty element or any difference is a 400.
    private mutating func observeContentLength(_ bytes: UnsafeRawBufferPointer, _ value: Range<Int>) throws(HTTP1ParseError) {
        var elements = ListElements(bytes, value)
        while let element = elements.next() {
            guard !element.isEmpty else { throw .badRequest("invalid Content-Length") }
            var length = 0
            for index in element {
                guard let digit = HeadParser.decimalDigit(bytes[index]) else { throw .badRequest("invalid Content-Length") }
                let (times10, o1) = length.multipliedReportingOverflow(by: 10)
                let (sum, o2) = times10.addingReportingOverflow(digit)
                guard !o1 && !o2 else { throw .badRequest("Content-Length overflows") }
                length = sum
            }
            if let previous = contentLength, previous != length {
                throw .badRequest("conflicting Content-Length values")
            }
            contentLength = length
        }
    }

    /// Body framing per RFC 9112 §6.3, with the checks that keep a request unambiguous.
    func bodyKind(versionMinor: Int, limits: HTTP1Limits) throws(HTTP1ParseError) -> HTTPBodyKind {
        if transferEncodingSeen {
            if versionMinor == 0 { throw .badRequest("Transfer-Encoding in an HTTP/1.0 request") }
            if contentLength != nil { throw .badRequest("both Content-Length and Transfer-Encoding") }
            if transferCodings == 0 { throw .badRequest("empty Transfer-Encoding") }
            if chunkedNotLast { throw .badRequest("chunked is not the final transfer coding") }
            if unknownCoding { throw .notImplemented("unsupported transfer coding") }
            return .chunked
        }
        if let length = contentLength {
            if limits.maxBodyBytes > 0 && length > limits.maxBodyBytes { throw .tooLarge("request body too large") }
            return .contentLength(length)
        }
        return .none
    }
}
