import Config
import XCTest

/// Issue 11: `listeners[].http2` and `limits.http2`.
final class HTTP2ConfigTests: XCTestCase {
    private func config(listenerExtra: String = "", limits: String = "") -> String {
        (limits.isEmpty ? "" : "limits:\n  http2:\n" + limits.split(separator: "\n").map { "    \($0)\n" }.joined())
            + "listeners:\n  - name: web\n    address: 127.0.0.1:8080\n" + listenerExtra
            + "    routes: [{prefix: /, cluster: backend}]\n"
            + "clusters:\n  - name: backend\n    endpoints: [127.0.0.1:50051]\n"
    }

    func testDefaults() throws {
        let c = try XCTUnwrap(parseConfig(config()))
        XCTAssertTrue(c.listeners[0].http2)
        XCTAssertEqual(c.limits.http2, HTTP2Limits())
        XCTAssertEqual(c.limits.http2.maxConcurrentStreams, 100)
        XCTAssertEqual(c.limits.http2.initialStreamWindow, 256 * 1024)
        XCTAssertEqual(c.limits.http2.maxResetsPerWindow, 200)
    }

    func testEveryKey() throws {
        let c = try XCTUnwrap(parseConfig(config(listenerExtra: "    http2: false\n", limits: """
            max_concurrent_streams: 20
            initial_stream_window: 128KiB
            initial_connection_window: 4MiB
            max_header_list_size: 16KiB
            max_resets_per_window: 50
            max_control_frames_per_window: 500
            abuse_window: 5s
            """)))
        XCTAssertFalse(c.listeners[0].http2)
        XCTAssertEqual(c.limits.http2, HTTP2Limits(maxConcurrentStreams: 20, initialStreamWindow: 128 * 1024,
                                                   initialConnectionWindow: 4 << 20, maxHeaderListSize: 16 * 1024,
                                                   maxResetsPerWindow: 50, maxControlFramesPerWindow: 500,
                                                   abuseWindow: .seconds(5)))
    }

    func testBadValuesAreLocated() {
        for (limits, path) in [
            ("max_concurrent_streams: 0", "limits.http2.max_concurrent_streams"),
            ("initial_stream_window: 1KiB", "limits.http2.initial_stream_window"),
            ("initial_connection_window: 4GiB", "limits.http2.initial_connection_window"),
            ("abuse_window: 0s", "limits.http2.abuse_window"),
            ("max_streams: 10", "limits.http2.max_streams"),
        ] {
            XCTAssertThrowsError(try ConfigLoader.parse(config(limits: limits), file: "t.yaml"), limits) { error in
                XCTAssertEqual((error as? ConfigError)?.path, path, "\(error)")
                XCTAssertEqual((error as? ConfigError)?.line, 3, "\(error)")
            }
        }
        XCTAssertThrowsError(try ConfigLoader.parse(config(listenerExtra: "    http2: maybe\n"), file: "t.yaml")) { error in
            XCTAssertEqual((error as? ConfigError)?.path, "listeners[0].http2", "\(error)")
        }
    }
}
