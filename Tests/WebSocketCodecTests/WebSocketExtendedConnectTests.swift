import XCTest
import WebSocketCodec

/// RFC 8441 extended CONNECT: the HTTP/2 form of the opening handshake (no key, no Upgrade/Connection fields).
final class WebSocketExtendedConnectTests: XCTestCase {
    /// What Chromium sends for `new WebSocket(url, "grpc-websockets")` on an HTTP/2 connection (pseudo-fields apart).
    private let good: [(String, String)] = [
        ("origin", "https://app.example"),
        ("sec-websocket-version", "13"),
        ("sec-websocket-protocol", "grpc-websockets"),
        ("sec-websocket-extensions", "permessage-deflate; client_max_window_bits"),
    ]

    private func status(method: String = "CONNECT", protocol p: String? = "websocket", _ headers: [(String, String)]) -> Int? {
        do {
            _ = try WebSocketHandshake.validateExtendedConnect(method: method, connectProtocol: p, headers: headers)
            return nil
        } catch {
            XCTAssertFalse(error.reason.isEmpty)
            return error.status
        }
    }

    func testValidRequestHasNoKey() throws {
        let request = try WebSocketHandshake.validateExtendedConnect(method: "CONNECT", connectProtocol: "websocket", headers: good)
        XCTAssertEqual(request, WebSocketUpgradeRequest(key: "", subprotocols: ["grpc-websockets"], origin: "https://app.example"))
    }

    func testProtocolIsCaseInsensitiveAndRequired() {
        XCTAssertNil(status(protocol: "WebSocket", good))
        XCTAssertEqual(status(protocol: nil, good), 400)
        XCTAssertEqual(status(protocol: "webtransport", good), 400)
        XCTAssertEqual(status(method: "GET", good), 400)
    }

    func testVersionAsOverHTTP1() {
        let withoutVersion = good.filter { $0.0 != "sec-websocket-version" }
        XCTAssertEqual(status(withoutVersion), 426)
        XCTAssertEqual(status(withoutVersion + [("sec-websocket-version", "8")]), 426)
        XCTAssertEqual(status(good + [("sec-websocket-version", "13")]), 400)
    }

    func testNoUpgradeOrKeyFieldsNeeded() throws {
        // Neither Upgrade/Connection (forbidden in HTTP/2) nor Sec-WebSocket-Key (RFC 8441 §5) is looked for.
        let request = try WebSocketHandshake.validateExtendedConnect(method: "CONNECT", connectProtocol: "websocket",
                                                                     headers: [("sec-websocket-version", "13")])
        XCTAssertEqual(request.subprotocols, [])
        XCTAssertNil(request.origin)
    }
}
