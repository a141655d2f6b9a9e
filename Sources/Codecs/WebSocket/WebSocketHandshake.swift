internal import COpenSSL

/// The server side of the RFC 6455 §4 opening handshake: validating the client's upgrade request and producing
/// the `101 Switching Protocols` response head; and the RFC 8441 extended CONNECT that replaces it over HTTP/2.
public enum WebSocketHandshake {
    /// The GUID every server appends to the client key before hashing (RFC 6455 §1.3).
    static let guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    /// Validates an upgrade request (RFC 6455 §4.2.1): method GET, HTTP/1.1, `Upgrade` containing `websocket`,
    /// `Connection` containing `upgrade` (both token lists, case-insensitive, possibly split across several
    /// headers), exactly one `Sec-WebSocket-Version: 13` (else 426) and exactly one `Sec-WebSocket-Key` that is the
    /// base64 of 16 bytes (else 400). Header names are matched case-insensitively.
    public static func validate(method: String, versionMinor: Int,
                                headers: [(String, String)]) throws(WebSocketHandshakeError) -> WebSocketUpgradeRequest {
        guard method == "GET" else { throw WebSocketHandshakeError(status: 405, reason: "WebSocket upgrade requires GET") }
        guard versionMinor == 1 else {
            throw WebSocketHandshakeError(status: 400, reason: "WebSocket upgrade requires HTTP/1.1")
        }
        let fields = HandshakeFields(headers)
        guard fields.upgradesToWebSocket else {
            throw WebSocketHandshakeError(status: 400, reason: "missing 'Upgrade: websocket'")
        }
        guard fields.connectionUpgrade else {
            throw WebSocketHandshakeError(status: 400, reason: "'Connection' header lacks the 'upgrade' token")
        }
        try checkVersion(fields.versions)
        guard fields.keys.count == 1, let key = fields.keys.first else {
            throw WebSocketHandshakeError(status: 400, reason: fields.keys.isEmpty ? "missing Sec-WebSocket-Key" : "duplicate Sec-WebSocket-Key")
        }
        guard isValidKey(key) else {
            throw WebSocketHandshakeError(status: 400, reason: "Sec-WebSocket-Key is not the base64 of 16 bytes")
        }
        return WebSocketUpgradeRequest(key: key, subprotocols: fields.subprotocols, origin: fields.origin)
    }

    /// Validates an RFC 8441 extended CONNECT (WebSocket over HTTP/2, §4-5): `:method CONNECT` with
    /// `:protocol websocket`, and exactly one `sec-websocket-version: 13` (else 426, as over HTTP/1.1). HTTP/2 has no
    /// key and no accept (§5), so the returned request's `key` is empty; `upgrade`/`connection` do not exist there.
    public static func validateExtendedConnect(method: String, connectProtocol: String?,
                                               headers: [(String, String)]) throws(WebSocketHandshakeError) -> WebSocketUpgradeRequest {
        guard method == "CONNECT", let connectProtocol, asciiLowercased(connectProtocol) == "websocket" else {
            throw WebSocketHandshakeError(status: 400, reason: "WebSocket over HTTP/2 requires CONNECT with :protocol websocket")
        }
        let fields = HandshakeFields(headers)
        try checkVersion(fields.versions)
        return WebSocketUpgradeRequest(key: "", subprotocols: fields.subprotocols, origin: fields.origin)
    }

    /// 426 tells the client which version we speak; a duplicated header is just malformed.
    private static func checkVersion(_ versions: [String]) throws(WebSocketHandshakeError) {
        guard versions.count <= 1 else {
            throw WebSocketHandshakeError(status: 400, reason: "duplicate Sec-WebSocket-Version")
        }
        guard versions.first == "13" else {
            throw WebSocketHandshakeError(status: 426, reason: "unsupported or missing Sec-WebSocket-Version (13 required)")
        }
    }

    /// The handshake fields of a request, collected in one pass; names matched case-insensitively.
    private struct HandshakeFields {
        var upgradesToWebSocket = false
        var connectionUpgrade = false
        var versions: [String] = []
        var keys: [String] = []
        var subprotocols: [String] = []
        var origin: String?

        init(_ headers: [(String, String)]) {
            for (name, value) in headers {
                switch asciiLowercased(name) {
                case "upgrade":
                    if tokens(value).contains(where: { asciiLowercased($0) == "websocket" }) { upgradesToWebSocket = true }
                case "connection":
                    if tokens(value).contains(where: { asciiLowercased($0) == "upgrade" }) { connectionUpgrade = true }
                case "sec-websocket-version":
                    versions.append(trimmed(value))
                case "sec-websocket-key":
                    keys.append(trimmed(value))
                case "sec-websocket-protocol":
                    subprotocols.append(contentsOf: tokens(value))
                case "origin":
                    if origin == nil { origin = trimmed(value) }
                default:
                    break
                }
            }
        }
    }

    /// base64(SHA-1(key + GUID)) — RFC 6455 §4.2.2.
    public static func acceptKey(for clientKey: String) -> String {
        let input = Array((clientKey + guid).utf8)
        var digest = [UInt8](repeating: 0, count: 20)  // SHA-1 output size
        var digestLength: UInt32 = 0
        let ok = input.withUnsafeBytes { inputBytes in
            EVP_Digest(inputBytes.baseAddress, inputBytes.count, &digest, &digestLength, EVP_sha1(), nil)
        }
        precondition(ok == 1 && digestLength == 20, "OpenSSL SHA-1 failed")
        // base64 of 20 bytes is 28 characters; EVP_EncodeBlock also writes a terminating NUL.
        var encoded = [UInt8](repeating: 0, count: 29)
        let written = EVP_EncodeBlock(&encoded, digest, Int32(digest.count))
        precondition(written == 28, "OpenSSL base64 failed")
        return String(decoding: encoded[0..<28], as: UTF8.self)
    }

    /// The `101 Switching Protocols` head, ending with the blank line. `extraHeaders` must not contain CR or LF.
    public static func responseHead(acceptKey: String, subprotocol: String?,
                                    extraHeaders: [(String, String)] = []) -> [UInt8] {
        var head = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        head += "Sec-WebSocket-Accept: \(acceptKey)\r\n"
        if let subprotocol {
            precondition(!containsLineBreak(subprotocol), "CR/LF in a WebSocket subprotocol")
            head += "Sec-WebSocket-Protocol: \(subprotocol)\r\n"
        }
        for (name, value) in extraHeaders {
            // A line break here would let a value inject headers (response splitting): a caller bug.
            precondition(!containsLineBreak(name) && !containsLineBreak(value), "CR/LF in a response header")
            head += "\(name): \(value)\r\n"
        }
        head += "\r\n"
        return Array(head.utf8)
    }

    /// 24 characters: 22 from the base64 alphabet then "==", which is exactly how 16 bytes encode. Non-zero
    /// padding bits in the 22nd character are tolerated, as common base64 decoders do.
    static func isValidKey(_ key: String) -> Bool {
        let bytes = Array(key.utf8)
        guard bytes.count == 24, bytes[22] == UInt8(ascii: "="), bytes[23] == UInt8(ascii: "=") else { return false }
        return bytes[0..<22].allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "+"), UInt8(ascii: "/"):
                return true
            default:
                return false
            }
        }
    }

    /// The comma-separated elements of a header value, trimmed, empties dropped (RFC 9110 §5.6.1).
    static func tokens(_ value: String) -> [String] {
        value.split(separator: ",", omittingEmptySubsequences: false)
            .map { trimmed(String($0)) }
            .filter { !$0.isEmpty }
    }

    static func trimmed(_ value: String) -> String {
        let utf8 = value.utf8
        guard let first = utf8.firstIndex(where: { $0 != 0x20 && $0 != 0x09 }),
              let last = utf8.lastIndex(where: { $0 != 0x20 && $0 != 0x09 }) else { return "" }
        return String(decoding: utf8[first...last], as: UTF8.self)
    }

    /// Header names are ASCII tokens; avoid Unicode case mapping on this path.
    static func asciiLowercased(_ value: String) -> String {
        guard value.utf8.contains(where: { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }) else { return value }
        return String(decoding: value.utf8.map { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") ? $0 | 0x20 : $0 },
                      as: UTF8.self)
    }

    private static func containsLineBreak(_ value: String) -> Bool {
        value.utf8.contains { $0 == 0x0D || $0 == 0x0A }
    }
}
