@testable import Proxy
import Upstream
import XCTest

/// The per-worker recorder (fed CallSummaries directly, as the calls will) and the Prometheus text rendering.
final class MetricsTests: XCTestCase {
    private func summary(route: String = "service:pkg.Svc", cluster: String = "backend", status: Int = 0,
                         transport: CallSummary.Transport = .grpcWeb, millis: UInt64, bytes: (Int, Int) = (10, 20)) -> CallSummary {
        var s = CallSummary()
        s.listener = "web"
        s.route = route
        s.cluster = cluster
        s.transport = transport
        s.grpcStatus = status
        s.durationNanos = millis * 1_000_000
        s.requestBytes = bytes.0
        s.responseBytes = bytes.1
        s.requestMessages = 1
        s.responseMessages = 2
        return s
    }

    /// The value of the one line that starts with `series + " "`.
    private func value(_ text: String, _ series: String) -> String? {
        text.split(separator: "\n").first { $0.hasPrefix(series + " ") }.map { String($0.dropFirst(series.count + 1)) }
    }

    func testRecorderCountsCallsByLabelsAndSumsPayloads() {
        let r = MetricsRecorder()
        r.record(summary(millis: 1))
        r.record(summary(millis: 3))
        r.record(summary(status: 14, millis: 2))
        r.record(summary(transport: .websocket, millis: 2))
        let s = r.snapshot()
        XCTAssertEqual(s.calls[.init(listener: "web", route: "service:pkg.Svc", cluster: "backend", transport: "grpc-web", grpcStatus: 0)], 2)
        XCTAssertEqual(s.calls[.init(listener: "web", route: "service:pkg.Svc", cluster: "backend", transport: "grpc-web", grpcStatus: 14)], 1)
        XCTAssertEqual(s.calls[.init(listener: "web", route: "service:pkg.Svc", cluster: "backend", transport: "websocket", grpcStatus: 0)], 1)
        let t = s.routes[.init(route: "service:pkg.Svc", cluster: "backend")]
        XCTAssertEqual(t?.count, 4)
        XCTAssertEqual(t?.requestBytes, 40)
        XCTAssertEqual(t?.responseBytes, 80)
        XCTAssertEqual(t?.requestMessages, 4)
        XCTAssertEqual(t?.responseMessages, 8)
        XCTAssertEqual(t?.durationSumNanos, 8_000_000)
    }

    func testStatusesOutsideTheGRPCRangeShareTheUnknownSeries() {
        let r = MetricsRecorder()
        for code in [17, 99, 123_456, -1, 2] { r.record(summary(status: code, millis: 1)) }
        let calls = r.snapshot().calls
        XCTAssertEqual(calls.count, 1, "\(calls)")
        XCTAssertEqual(calls.first?.key.grpcStatus, 2)
        XCTAssertEqual(calls.first?.value, 5)
    }

    func testBucketBoundsAreInclusive() {
        XCTAssertEqual(CallDurationBuckets.index(ofNanos: 0), 0)
        XCTAssertEqual(CallDurationBuckets.index(ofNanos: 1_000_000), 0)  // le="0.001" includes exactly 1 ms
        XCTAssertEqual(CallDurationBuckets.index(ofNanos: 1_000_001), 1)
        XCTAssertEqual(CallDurationBuckets.index(ofNanos: 3_600_000_000_000), CallDurationBuckets.upperBoundsNanos.count - 1)
        XCTAssertEqual(CallDurationBuckets.index(ofNanos: 3_600_000_000_001), CallDurationBuckets.upperBoundsNanos.count)  // +Inf
    }

    func testSnapshotsOfWorkersAddUp() {
        let a = MetricsRecorder(), b = MetricsRecorder()
        a.record(summary(millis: 1))
        b.record(summary(millis: 700))
        b.downstreamOpened(listener: "web", httpVersion: "2")
        a.downstreamOpened(listener: "web", httpVersion: "2")
        a.downstreamOpened(listener: "web", httpVersion: "1.1")
        a.downstreamClosed(listener: "web", httpVersion: "1.1")
        var sum = a.snapshot()
        sum.add(b.snapshot())
        sum.addEndpoints(cluster: "backend", [EndpointMetrics(endpoint: "127.0.0.1:1", connectionsOpen: 1, connectionsOpened: 3,
                                                              connectionsFailed: 2, ejections: 1, healthy: false)])
        sum.addEndpoints(cluster: "backend", [EndpointMetrics(endpoint: "127.0.0.1:1", connectionsOpen: 2, connectionsOpened: 2,
                                                              connectionsFailed: 0, ejections: 1, healthy: false)])
        XCTAssertEqual(sum.calls.values.reduce(0, +), 2)
        XCTAssertEqual(sum.routes[.init(route: "service:pkg.Svc", cluster: "backend")]?.count, 2)
        XCTAssertEqual(sum.downstreamOpen[.init(listener: "web", httpVersion: "2")], 2)
        XCTAssertEqual(sum.downstreamOpen[.init(listener: "web", httpVersion: "1.1")], 0)
        let e = sum.endpoints[.init(cluster: "backend", endpoint: "127.0.0.1:1")]
        XCTAssertEqual(e, MetricsSnapshot.EndpointTotals(connectionsOpen: 3, connectionsOpened: 5, connectionsFailed: 2, ejections: 2, healthy: false))
    }

    func testHistogramIsCumulativeWithSumAndCount() {
        let r = MetricsRecorder()
        for ms: UInt64 in [1, 2, 2, 40, 7_000] { r.record(summary(millis: ms)) }
        r.record(summary(millis: 2 * 3_600_000))  // a two-hour stream: only +Inf
        let text = MetricsText.render(r.snapshot())
        let labels = "route=\"service:pkg.Svc\",cluster=\"backend\""
        let h = "grpcwebproxy_call_duration_seconds"
        XCTAssertTrue(text.contains("# HELP \(h) "))
        XCTAssertTrue(text.contains("# TYPE \(h) histogram\n"))
        XCTAssertEqual(value(text, "\(h)_bucket{\(labels),le=\"0.001\"}"), "1")
        XCTAssertEqual(value(text, "\(h)_bucket{\(labels),le=\"0.0025\"}"), "3")
        XCTAssertEqual(value(text, "\(h)_bucket{\(labels),le=\"0.025\"}"), "3")
        XCTAssertEqual(value(text, "\(h)_bucket{\(labels),le=\"0.05\"}"), "4")
        XCTAssertEqual(value(text, "\(h)_bucket{\(labels),le=\"5\"}"), "4")
        XCTAssertEqual(value(text, "\(h)_bucket{\(labels),le=\"10\"}"), "5")
        XCTAssertEqual(value(text, "\(h)_bucket{\(labels),le=\"3600\"}"), "5")
        XCTAssertEqual(value(text, "\(h)_bucket{\(labels),le=\"+Inf\"}"), "6")
        XCTAssertEqual(value(text, "\(h)_count{\(labels)}"), "6")
        XCTAssertEqual(Double(value(text, "\(h)_sum{\(labels)}") ?? "")!, 7_207.045, accuracy: 1e-9)
        // Buckets appear in increasing order of `le`, 18 bounds and +Inf.
        let les = text.split(separator: "\n").filter { $0.hasPrefix("\(h)_bucket{") }.count
        XCTAssertEqual(les, 19)
    }

    func testLabelValuesAreEscaped() {
        XCTAssertEqual(MetricsText.escape("plain:pkg.Svc/Method"), "plain:pkg.Svc/Method")
        XCTAssertEqual(MetricsText.escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd")
        let r = MetricsRecorder()
        r.record(summary(route: "say \"hi\"\\\n", millis: 1))
        let text = MetricsText.render(r.snapshot())
        XCTAssertEqual(value(text, "grpcwebproxy_calls_total{listener=\"web\",route=\"say \\\"hi\\\"\\\\\\n\",cluster=\"backend\",transport=\"grpc-web\",grpc_status=\"0\"}"), "1")
        XCTAssertFalse(text.split(separator: "\n").contains { $0.hasPrefix("\",") }, "no raw newline inside a label value")
    }

    func testEveryFamilyHasHelpAndTypeAndCountersEndInTotal() {
        let r = MetricsRecorder()
        r.record(summary(millis: 1))
        r.downstreamOpened(listener: "web", httpVersion: "1.1")
        var s = r.snapshot()
        s.addEndpoints(cluster: "backend", [EndpointMetrics(endpoint: "127.0.0.1:1", connectionsOpen: 1, connectionsOpened: 1,
                                                            connectionsFailed: 0, ejections: 0, healthy: true)])
        let text = MetricsText.render(s)
        let lines = text.split(separator: "\n")
        var typed: [String: String] = [:]
        for line in lines where line.hasPrefix("# TYPE ") {
            let parts = line.split(separator: " ")
            typed[String(parts[2])] = String(parts[3])
            XCTAssertTrue(lines.contains { $0.hasPrefix("# HELP \(parts[2]) ") }, "HELP for \(parts[2])")
        }
        for (name, type) in typed where type == "counter" { XCTAssertTrue(name.hasSuffix("_total"), name) }
        for name in ["grpcwebproxy_calls_total", "grpcwebproxy_request_bytes_total", "grpcwebproxy_response_bytes_total",
                     "grpcwebproxy_request_messages_total", "grpcwebproxy_response_messages_total",
                     "grpcwebproxy_upstream_connections_open", "grpcwebproxy_upstream_connections_opened_total",
                     "grpcwebproxy_upstream_connections_failed_total", "grpcwebproxy_endpoint_healthy",
                     "grpcwebproxy_endpoint_ejections_total", "grpcwebproxy_downstream_connections_open"] {
            XCTAssertNotNil(typed[name], name)
        }
        XCTAssertEqual(value(text, "grpcwebproxy_endpoint_healthy{cluster=\"backend\",endpoint=\"127.0.0.1:1\"}"), "1")
        XCTAssertEqual(value(text, "grpcwebproxy_downstream_connections_open{listener=\"web\",http_version=\"1.1\"}"), "1")
        XCTAssertEqual(value(text, "grpcwebproxy_request_bytes_total{route=\"service:pkg.Svc\",cluster=\"backend\"}"), "10")
    }
}
