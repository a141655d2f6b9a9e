import Synchronization
import Transport
import Upstream

/// A relaxed atomic counter (a class so it can live in arrays and be shared).
public final class Counter: Sendable {
    private let value = Atomic<Int>(0)
    public init() {}
    @inline(__always) public func add(_ n: Int) { value.add(n, ordering: .relaxed) }
    @inline(__always) public func subtract(_ n: Int) { value.subtract(n, ordering: .relaxed) }
    public func load() -> Int { value.load(ordering: .relaxed) }
}

/// Process-wide counters shared by every worker (relaxed atomics: a counter bump per call, no locks), exported by
/// the admin endpoint in Prometheus text format.
public final class ProxyStats: Sendable {
    public let downstreamConnectionsTotal = Counter()
    public let downstreamConnectionsActive = Counter()
    public let httpRequestsTotal = Counter()
    public let httpLocalErrorsTotal = Counter()
    public let grpcWebCallsTotal = Counter()
    public let corsPreflightsTotal = Counter()
    public let httpHeadersParamCallsTotal = Counter()
    public let httpHeadersParamRefusedTotal = Counter()
    public let webSocketCallsTotal = Counter()
    public let callsActive = Counter()
    public let upstreamFailuresTotal = Counter()
    public let deadlineExceededTotal = Counter()
    public let cancelledByClientTotal = Counter()
    public let requestBodyTimeoutsTotal = Counter()
    public let outputLimitPausesTotal = Counter()
    public let responsesAbortedMidMessageTotal = Counter()
    public let overloadConnectionsRefusedTotal = Counter()
    public let overloadCallsShedTotal = Counter()
    public let overloadConnectionsResetTotal = Counter()
    // Limits without a counter of their own before `grpcwebproxy_limit_rejections_total` (see RejectingLimit).
    public let maxConnectionsRefusedTotal = Counter()
    public let requestHeadersTooLargeTotal = Counter()
    public let requestBodyTooLargeTotal = Counter()
    public let headerReadTimeoutsTotal = Counter()
    public let messagesTooLargeTotal = Counter()
    public let webSocketMessagesTooLargeTotal = Counter()
    public let httpHeadersParamTooLargeTotal = Counter()
    public let reloadsTotal = Counter()
    public let reloadFailuresTotal = Counter()
    /// FNV-1a of the running config (set at start and by each reload).
    private let configHash = Atomic<UInt64>(0)
    public func setConfigHash(_ hash: UInt64) { configHash.store(hash, ordering: .relaxed) }
    public let downstreamHTTP2ConnectionsTotal = Counter()
    public let http2StreamsTotal = Counter()
    public let nativeGRPCCallsTotal = Counter()
    public let http2StreamsRefusedTotal = Counter()
    public let http2HeaderListTooLargeTotal = Counter()
    public let http2RapidResetGoawaysTotal = Counter()
    public let http2FloodGoawaysTotal = Counter()
    public let http2ProtocolErrorsTotal = Counter()
    public let downstreamTLSHandshakesTotal = Counter()
    public let downstreamTLSHandshakeFailuresTotal = Counter()
    public let downstreamTLSHandshakeTimeoutsTotal = Counter()
    public let downstreamTLSPlaintextRejectedTotal = Counter()
    /// Clusters configured with `tls.verify: false` (set at start).
    public let upstreamTLSVerifyDisabled = Counter()
    /// Published by each worker every 100 ms.
    public let timersLive = Counter()
    public let timerHeapEntries = Counter()
    /// Calls by final gRPC status code (0...16).
    public let statusCounts: [Counter]

    public init() {
        statusCounts = (0...16).map { _ in Counter() }
    }

    public func recordStatus(_ code: Int) {
        if code >= 0 && code < statusCounts.count { statusCounts[code].add(1) }
    }

    public func prometheusText() -> String {
        var out = ""
        func counter(_ name: String, _ help: String, _ v: Int, type: String = "counter") {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n\(name) \(v)\n"
        }
        counter("grpcwebproxy_downstream_connections_total", "Accepted browser-side connections.", downstreamConnectionsTotal.load())
        counter("grpcwebproxy_downstream_connections_active", "Open browser-side connections.", downstreamConnectionsActive.load(), type: "gauge")
        counter("grpcwebproxy_http_requests_total", "HTTP/1.1 requests parsed.", httpRequestsTotal.load())
        counter("grpcwebproxy_http_local_errors_total", "Requests answered with a plain HTTP error by the proxy.", httpLocalErrorsTotal.load())
        counter("grpcwebproxy_grpcweb_calls_total", "gRPC-Web calls started.", grpcWebCallsTotal.load())
        counter("grpcwebproxy_cors_preflights_total", "OPTIONS requests (CORS preflights) received.", corsPreflightsTotal.load())
        counter("grpcwebproxy_http_headers_param_calls_total", "Calls admitted with their headers in the $httpHeaders query parameter (no preflight).", httpHeadersParamCallsTotal.load())
        counter("grpcwebproxy_http_headers_param_refused_total", "Requests refused for their $httpHeaders parameter (malformed, oversized, forbidden header, origin or header not allowed).", httpHeadersParamRefusedTotal.load())
        counter("grpcwebproxy_websocket_calls_total", "grpc-websockets calls started.", webSocketCallsTotal.load())
        counter("grpcwebproxy_calls_active", "Calls in flight.", callsActive.load(), type: "gauge")
        counter("grpcwebproxy_upstream_failures_total", "Calls that failed to reach or lost their upstream.", upstreamFailuresTotal.load())
        counter("grpcwebproxy_deadline_exceeded_total", "Calls ended by the proxy's deadline.", deadlineExceededTotal.load())
        counter("grpcwebproxy_cancelled_by_client_total", "Calls cancelled because the browser went away.", cancelledByClientTotal.load())
        counter("grpcwebproxy_request_body_timeouts_total", "Calls ended because the request body stalled longer than request_body_timeout.", requestBodyTimeoutsTotal.load())
        counter("grpcwebproxy_output_limit_pauses_total", "Times a browser connection stopped being read because its queued output exceeded output_buffer_limit.", outputLimitPausesTotal.load())
        counter("grpcwebproxy_responses_aborted_mid_message_total", "Responses cut without a trailer frame because the call ended inside a message.", responsesAbortedMidMessageTotal.load())
        counter("grpcwebproxy_buffered_bytes", "Bytes queued in the proxy's sockets, both directions (the overload budget's measure).", BufferedBytesGauge.current, type: "gauge")
        counter("grpcwebproxy_overload_connections_refused_total", "New connections closed at once because the proxy was overloaded.", overloadConnectionsRefusedTotal.load())
        counter("grpcwebproxy_overload_calls_shed_total", "New calls answered with grpc-status 14 because the proxy was overloaded.", overloadCallsShedTotal.load())
        counter("grpcwebproxy_overload_connections_reset_total", "Connections reset because they held the largest queues while over budget.", overloadConnectionsResetTotal.load())
        counter("grpcwebproxy_config_reloads_total", "Config reloads applied (SIGHUP or POST /reload).", reloadsTotal.load())
        counter("grpcwebproxy_config_reload_failures_total", "Config reloads refused (invalid file or a change that needs a restart).", reloadFailuresTotal.load())
        let hash = String(configHash.load(ordering: .relaxed), radix: 16)
        out += "# HELP grpcwebproxy_config_info The running config, by the hash of its contents.\n# TYPE grpcwebproxy_config_info gauge\ngrpcwebproxy_config_info{hash=\"\(hash)\"} 1\n"
        counter("grpcwebproxy_downstream_http2_connections_total", "Client connections served over HTTP/2 (ALPN h2 or prior-knowledge h2c).", downstreamHTTP2ConnectionsTotal.load())
        counter("grpcwebproxy_http2_streams_total", "Request streams opened by HTTP/2 clients.", http2StreamsTotal.load())
        counter("grpcwebproxy_native_grpc_calls_total", "Native gRPC calls passed through from HTTP/2 clients.", nativeGRPCCallsTotal.load())
        counter("grpcwebproxy_http2_streams_refused_total", "Streams refused (REFUSED_STREAM) over limits.http2.max_concurrent_streams.", http2StreamsRefusedTotal.load())
        counter("grpcwebproxy_http2_header_list_too_large_total", "Streams reset because their header list exceeded limits.http2.max_header_list_size.", http2HeaderListTooLargeTotal.load())
        counter("grpcwebproxy_http2_rapid_reset_goaways_total", "Connections ended with GOAWAY ENHANCE_YOUR_CALM for resetting too many streams (rapid reset).", http2RapidResetGoawaysTotal.load())
        counter("grpcwebproxy_http2_flood_goaways_total", "Connections ended with GOAWAY ENHANCE_YOUR_CALM for flooding control or empty frames.", http2FloodGoawaysTotal.load())
        counter("grpcwebproxy_http2_protocol_errors_total", "HTTP/2 client connections ended by a protocol error (CONTINUATION floods and oversized header blocks included).", http2ProtocolErrorsTotal.load())
        counter("grpcwebproxy_downstream_tls_handshakes_total", "TLS handshakes completed with browsers and clients.", downstreamTLSHandshakesTotal.load())
        counter("grpcwebproxy_downstream_tls_handshake_failures_total", "TLS connections from clients that failed before the handshake finished (timeouts and plain HTTP included).", downstreamTLSHandshakeFailuresTotal.load())
        counter("grpcwebproxy_downstream_tls_handshake_timeouts_total", "TLS connections from clients closed at handshake_timeout.", downstreamTLSHandshakeTimeoutsTotal.load())
        counter("grpcwebproxy_downstream_tls_plaintext_rejected_total", "Connections to a TLS listener that sent plain HTTP or other non-TLS bytes.", downstreamTLSPlaintextRejectedTotal.load())
        counter("grpcwebproxy_upstream_tls_handshake_failures_total", "TLS handshakes with upstream servers that failed (verification, ALPN, alert, timeout).", UpstreamTLSStats.handshakeFailures)
        counter("grpcwebproxy_upstream_tls_verify_disabled", "Clusters whose server certificates are not verified (tls.verify: false).", upstreamTLSVerifyDisabled.load(), type: "gauge")
        counter("grpcwebproxy_timers", "Timers scheduled on the workers' loops (sampled every 100 ms).", timersLive.load(), type: "gauge")
        counter("grpcwebproxy_timer_heap_entries", "Timer heap entries, cancelled ones not yet dropped included (sampled every 100 ms).", timerHeapEntries.load(), type: "gauge")
        out += "# HELP grpcwebproxy_calls_by_status_total Finished calls by gRPC status code.\n# TYPE grpcwebproxy_calls_by_status_total counter\n"
        for (code, c) in statusCounts.enumerated() {
            out += "grpcwebproxy_calls_by_status_total{code=\"\(code)\"} \(c.load())\n"
        }
        out += limitRejectionsText()
        return out
    }
}
