import GRPCWebCodec

/// Every configured limit that refuses work, as one labelled family: `grpcwebproxy_limit_rejections_total{limit}`,
/// the label being the config key an operator would raise. Process-wide atomics (`ProxyStats.Counter`): a
/// rejection is rare and its label set is fixed, so no per-worker table is needed.
public enum RejectingLimit: Int, CaseIterable, Sendable {
    case maxConnections, requestHeadersSize, requestBodySize, headerReadTimeout, requestBodyTimeout, maxMessageSize,
         webSocketMessageSize, http2MaxConcurrentStreams, http2MaxHeaderListSize, http2MaxResets, http2MaxControlFrames,
         overloadConnections, overloadCalls, httpHeadersParamSize

    /// The config key that sets the limit.
    public var configKey: String {
        switch self {
        case .maxConnections: "limits.max_connections"
        case .requestHeadersSize: "limits.max_request_headers_size"
        case .requestBodySize: "limits.max_request_body_size"
        case .headerReadTimeout: "limits.header_read_timeout"
        case .requestBodyTimeout: "limits.request_body_timeout"
        case .maxMessageSize: "limits.max_message_size"
        case .webSocketMessageSize: "websocket.max_message_size (or max_frame_size)"
        case .http2MaxConcurrentStreams: "limits.http2.max_concurrent_streams"
        case .http2MaxHeaderListSize: "limits.http2.max_header_list_size"
        case .http2MaxResets: "limits.http2.max_resets_per_window"
        case .http2MaxControlFrames: "limits.http2.max_control_frames_per_window"
        case .overloadConnections: "overload (connections refused or reset)"
        case .overloadCalls: "overload (calls shed)"
        case .httpHeadersParamSize: "limits.max_http_headers_param_size"
        }
    }
}

extension ProxyStats {
    /// The counter behind each limit: the specific counters kept since earlier releases where one exists, so a
    /// rejection is counted once and both names agree.
    func counter(for limit: RejectingLimit) -> Counter {
        switch limit {
        case .maxConnections: maxConnectionsRefusedTotal
        case .requestHeadersSize: requestHeadersTooLargeTotal
        case .requestBodySize: requestBodyTooLargeTotal
        case .headerReadTimeout: headerReadTimeoutsTotal
        case .requestBodyTimeout: requestBodyTimeoutsTotal
        case .maxMessageSize: messagesTooLargeTotal
        case .webSocketMessageSize: webSocketMessagesTooLargeTotal
        case .http2MaxConcurrentStreams: http2StreamsRefusedTotal
        case .http2MaxHeaderListSize: http2HeaderListTooLargeTotal
        case .http2MaxResets: http2RapidResetGoawaysTotal
        case .http2MaxControlFrames: http2FloodGoawaysTotal
        case .overloadConnections: overloadConnectionsRefusedTotal
        case .overloadCalls: overloadCallsShedTotal
        case .httpHeadersParamSize: httpHeadersParamTooLargeTotal
        }
    }

    public func rejected(by limit: RejectingLimit) { counter(for: limit).add(1) }

    /// A gRPC frame error: counted when it is a message over `max_message_size` (request or response).
    func count(_ error: GRPCFrameError) {
        if case .messageTooLarge = error.kind { messagesTooLargeTotal.add(1) }
    }

    func limitRejectionsText() -> String {
        var out = "# HELP grpcwebproxy_limit_rejections_total Work refused by a configured limit, labelled with the key that sets it.\n"
        out += "# TYPE grpcwebproxy_limit_rejections_total counter\n"
        for limit in RejectingLimit.allCases {
            out += "grpcwebproxy_limit_rejections_total{limit=\"\(limit.configKey)\"} \(counter(for: limit).load())\n"
        }
        return out
    }
}
