/// The request metadata block of the improbable-eng `grpc-websockets` protocol: the first binary message a client
/// sends, holding `name: value\r\n` lines (the final line break optional, as the JS client omits it). The server
/// reads it like an HTTP header block, so it is validated like one before any of it reaches the upstream request:
/// names are RFC 9110 tokens (returned lower-cased, as HTTP/2 requires), values are visible ASCII, SP or HTAB
/// (gRPC metadata values are ASCII; binary ones travel base64 in `-bin` fields), leading/trailing blanks are
/// trimmed. Bare LF line ends are accepted as RFC 9112 §2.2 allows. Empty lines are skipped.
public enum GRPCWebSocketsMetadata {
    /// Parses `bytes` into (lower-cased name, value) pairs in order; repeated names are kept as separate pairs.
    /// Malformed blocks fail with 1002 (protocol error); blocks over `maxSize` bytes or `maxCount` fields with 1008
    /// (policy violation), since they are well-formed but refused by configuration.
    public static func parse(_ bytes: [UInt8], maxSize: Int, maxCount: Int) throws(WebSocketError) -> [(String, String)] {
        guard bytes.count <= maxSize else {
            throw policy("metadata block of \(bytes.count) bytes exceeds the limit of \(maxSize)")
        }
        var fields: [(String, String)] = []
        let count = bytes.count
        var lineStart = 0
        while lineStart < count {
            var lineEnd = lineStart
            while lineEnd < count && bytes[lineEnd] != 0x0A { lineEnd += 1 }
            var contentEnd = lineEnd
            if contentEnd > lineStart && bytes[contentEnd - 1] == 0x0D { contentEnd -= 1 }
            let line = lineStart ..< contentEnd
            lineStart = lineEnd + 1
            if line.isEmpty { continue }

            guard bytes[line.lowerBound] != 0x20 && bytes[line.lowerBound] != 0x09 else {
                throw malformed("metadata line starts with whitespace (obsolete line folding)")
            }
            guard let colon = bytes[line].firstIndex(of: UInt8(ascii: ":")) else {
                throw malformed("metadata line without a colon")
            }
            let name = line.lowerBound ..< colon
            guard !name.isEmpty, bytes[name].allSatisfy(isTokenByte) else {
                throw malformed("invalid metadata field name")
            }
            var valueStart = colon + 1
            var valueEnd = contentEnd
            while valueStart < valueEnd && isBlank(bytes[valueStart]) { valueStart += 1 }
            while valueEnd > valueStart && isBlank(bytes[valueEnd - 1]) { valueEnd -= 1 }
            let value = valueStart ..< valueEnd
            guard bytes[value].allSatisfy({ $0 == 0x09 || ($0 >= 0x20 && $0 <= 0x7E) }) else {
                throw malformed("metadata value contains a control or non-ASCII byte")
            }
            guard fields.count < maxCount else { throw policy("more than \(maxCount) metadata fields") }
            let lowerName = String(decoding: bytes[name].lazy.map(asciiLowercase), as: UTF8.self)
            fields.append((lowerName, String(decoding: bytes[value], as: UTF8.self)))
        }
        return fields
    }

    /// RFC 9110 §5.6.2 tchar.
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
             UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
             UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    private static func isBlank(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 }

    private static func asciiLowercase(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
    }

    private static func malformed(_ reason: String) -> WebSocketError {
        WebSocketError(closeCode: WebSocketCloseCode.protocolError, reason: reason)
    }

    private static func policy(_ reason: String) -> WebSocketError {
        WebSocketError(closeCode: WebSocketCloseCode.policyViolation, reason: reason)
    }
}
