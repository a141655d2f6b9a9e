import XCTest
import WebSocketCodec

final class WebSocketHandshakeTests: XCTestCase {
    /// The client handshake of RFC 6455 §1.2, plus the grpc-websockets subprotocol.
    private let good: [(String, String)] = [
        ("Host", "server.example.com"),
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("Origin", "http://example.com"),
        ("Sec-WebSocket-Protocol", "grpc-websockets"),
        ("Sec-WebSocket-Version", "13"),
    ]

    private func headers(replacing name: String, with value: String?) -> [(String, String)] {
        var result = good.filter { $0.0.lowercased() != name.lowercased() }
        if let value { result.append((name, value)) }
        return result
    }

    private func status(method: String = "GET", minor: Int = 1, _ headers: [(String, String)]) -> Int? {
        do {
            _ = try WebSocketHandshake.validate(method: method, versionMinor: minor, headers: headers)
            return nil
        } catch {
            XCTAssertFalse(error.reason.isEmpty)
            return error.status
        }
    }

    func testRFCAcceptKeyVector() {
        XCTAssertEqual(WebSocketHandshake.acceptKey(for: "dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    }

    func testAcceptKeySecondVector() {
        // The handshake example on Wikipedia's WebSocket page; checked with Python's hashlib + base64.
        XCTAssertEqual(WebSocketHandshake.acceptKey(for: "x3JJHMbDL1EzLkh9GBhXDw=="), "HSmrc0sMlYUkAGmm5OPpG2HaGWk=")
    }

    func testValidRequest() throws {
        let request = try WebSocketHandshake.validate(method: "GET", versionMinor: 1, headers: good)
        XCTAssertEqual(request, WebSocketUpgradeRequest(key: "dGhlIHNhbXBsZSBub25jZQ==", subprotocols: ["grpc-websockets"],
                                                        origin: "http://example.com"))
    }

    func testCaseInsensitivityAndTokenLists() throws {
        let list: [(String, String)] = [
            ("UPGRADE", "WebSocket"),
            ("connection", "keep-alive, Upgrade"),     // what Firefox sends
            ("sec-websocket-key", "  dGhlIHNhbXBsZSBub25jZQ==\t"),
            ("SEC-WEBSOCKET-VERSION", " 13 "),
            ("sec-websocket-protocol", "grpc-websockets, foo"),
            ("Sec-WebSocket-Protocol", " bar ,, baz"),
        ]
        let request = try WebSocketHandshake.validate(method: "GET", versionMinor: 1, headers: list)
        XCTAssertEqual(request.key, "dGhlIHNhbXBsZSBub25jZQ==")
        XCTAssertEqual(request.subprotocols, ["grpc-websockets", "foo", "bar", "baz"])
        XCTAssertNil(request.origin)
        // Connection tokens split across two headers.
        XCTAssertNil(status(headers(replacing: "Connection", with: "keep-alive") + [("Connection", "upgrade")]))
        // Upgrade list containing websocket among others.
        XCTAssertNil(status(headers(replacing: "Upgrade", with: "foo/1, websocket")))
    }

    func testMethodAndVersion() {
        XCTAssertEqual(status(method: "POST", good), 405)
        XCTAssertEqual(status(method: "get", good), 405)  // methods are case-sensitive
        XCTAssertEqual(status(minor: 0, good), 400)
    }

    func testMissingUpgradeTokens() {
        XCTAssertEqual(status(headers(replacing: "Upgrade", with: nil)), 400)
        XCTAssertEqual(status(headers(replacing: "Upgrade", with: "h2c")), 400)
        XCTAssertEqual(status(headers(replacing: "Upgrade", with: "websockets")), 400)
        XCTAssertEqual(status(headers(replacing: "Connection", with: nil)), 400)
        XCTAssertEqual(status(headers(replacing: "Connection", with: "keep-alive")), 400)
        XCTAssertEqual(status(headers(replacing: "Connection", with: "upgraded")), 400)
    }

    func testVersion() {
        XCTAssertEqual(status(headers(replacing: "Sec-WebSocket-Version", with: "8")), 426)
        XCTAssertEqual(status(headers(replacing: "Sec-WebSocket-Version", with: "13, 8")), 426)
        XCTAssertEqual(status(headers(replacing: "Sec-WebSocket-Version", with: nil)), 426)
        XCTAssertEqual(status(good + [("Sec-WebSocket-Version", "13")]), 400)
    }

    func testKey() {
        XCTAssertEqual(status(headers(replacing: "Sec-WebSocket-Key", with: nil)), 400)
        XCTAssertEqual(status(headers(replacing: "Sec-WebSocket-Key", with: "")), 400)
        XCTAssertEqual(status(headers(replacing: "Sec-WebSocket-Key", with: "abc")), 400)
        XCTAssertEqual(status(headers(replacing: "Sec-WebSocket-Key", with: "dGhlIHNhbXBsZSBub25jZQ=")), 400)    // 23 chars
        XCTAssertEqual(status(headers(replacing: "Sec-WebSocket-Key", with: "dGhlIHNhbXBsZSBub25jZQ===")), 400)  // 25 chars
        XCTAssertEqual(status(headers(replacing: "Sec-WebSocket-Key", with: "dGhlIHNhbXBsZSBub25jZ===")), 400)   // 15 bytes
        XCTAssertEqual(status(headers(replacing: "Sec-WebSocket-Key", with: "dGhlIHNhbXBsZSBub25j*Q==")), 400)   // bad char
        XCTAssertEqual(status(headers(replacing: "Sec-WebSocket-Key", with: "dGhlIHNhbXBsZSBub25jZQQQ")), 400)   // 18 bytes
        XCTAssertEqual(status(good + [("Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAAAA==")]), 400)                // duplicate
        XCTAssertNil(status(headers(replacing: "Sec-WebSocket-Key", with: "AAAAAAAAAAAAAAAAAAAAAA==")))
        XCTAssertNil(status(headers(replacing: "Sec-WebSocket-Key", with: "+/+/+/+/+/+/+/+/+/+/+w==")))
    }

    func testResponseHead() {
        let plain = WebSocketHandshake.responseHead(acceptKey: "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", subprotocol: nil)
        XCTAssertEqual(String(decoding: plain, as: UTF8.self),
                       "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                       + "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
        let full = WebSocketHandshake.responseHead(acceptKey: "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", subprotocol: "grpc-websockets",
                                                   extraHeaders: [("Server", "grpc-web-proxy"), ("X-A", "b")])
        XCTAssertEqual(String(decoding: full, as: UTF8.self),
                       "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                       + "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: grpc-websockets\r\n"
                       + "Server: grpc-web-proxy\r\nX-A: b\r\n\r\n")
    }
}
