extension ClusterConfig {
    static let knownKeys = [
        "name", "endpoints", "connect_timeout", "load_balancing", "max_concurrent_streams",
        "max_connections_per_endpoint", "max_pending", "keepalive_interval", "keepalive_timeout", "dns_refresh",
        "retries", "health_check", "outlier_detection", "panic_mode", "initial_stream_window",
        "initial_connection_window", "max_response_header_bytes", "tls",
        "request_headers", "response_headers", "response_trailers",
    ]

    /// HTTP/2 caps a flow-control window at 2^31 - 1 (RFC 9113 §6.9.1).
    static let maxWindow = Int(Int32.max)

    init(decoding node: ConfigNode) throws(ConfigError) {
        let mapping = try node.mapping(knownKeys: ClusterConfig.knownKeys)
        let name = try mapping.required("name").nonEmptyString()
        let endpointsNode = try mapping.required("endpoints")
        var endpoints: [SocketAddressSpec] = []
        for item in try endpointsNode.sequence() {
            endpoints.append(try item.address(allowPortZero: false))
        }
        if endpoints.isEmpty { throw endpointsNode.error("a cluster needs at least one endpoint") }
        self.init(name: name, endpoints: endpoints)

        if let value = mapping.optional("connect_timeout") { connectTimeout = try value.duration(allowZero: false) }
        if let value = mapping.optional("load_balancing") {
            let raw = try value.choice(LoadBalancing.allCases.map(\.rawValue), what: "load balancing policy")
            loadBalancing = LoadBalancing(rawValue: raw) ?? .roundRobin
        }
        if let value = mapping.optional("max_concurrent_streams") { maxConcurrentStreams = try value.integer(in: 1...ClusterConfig.maxWindow) }
        if let value = mapping.optional("max_connections_per_endpoint") { maxConnectionsPerEndpoint = try value.integer(in: 1...1024) }
        if let value = mapping.optional("max_pending") { maxPending = try value.integer(in: 0...ConfigBounds.maxQueue) }
        if let value = mapping.optional("keepalive_interval") { keepaliveInterval = try value.duration() }
        if let value = mapping.optional("keepalive_timeout") { keepaliveTimeout = try value.duration(allowZero: false) }
        if let value = mapping.optional("dns_refresh") { dnsRefresh = try value.duration(allowZero: false) }
        if let value = mapping.optional("retries") { retries = try value.integer(in: 0...10) }
        if let value = mapping.optional("health_check") { healthCheck = try HealthCheckConfig(decoding: value) }
        if let value = mapping.optional("outlier_detection") { outlierDetection = try OutlierDetectionConfig(decoding: value) }
        if let value = mapping.optional("panic_mode") { panicMode = try value.bool() }
        if let value = mapping.optional("initial_stream_window") { initialStreamWindow = try value.size(in: 1...ClusterConfig.maxWindow) }
        // Below the protocol's initial 65,535 the window could not be set by WINDOW_UPDATE.
        if let value = mapping.optional("max_response_header_bytes") { maxResponseHeaderBytes = try value.size(in: 1024...(16 << 20)) }
        if let value = mapping.optional("initial_connection_window") { initialConnectionWindow = try value.size(in: 65535...ClusterConfig.maxWindow) }
        if let (value, location) = try mapping.tlsSection() { tls = try UpstreamTLSConfig(decoding: value, location: location) }
        headerRules = try HeaderRules.decode(mapping)
    }
}

extension HealthCheckConfig {
    static let knownKeys = ["interval", "timeout", "unhealthy_threshold", "healthy_threshold", "service"]

    /// `health_check: {}` enables checking with every default.
    init(decoding node: ConfigNode) throws(ConfigError) {
        let mapping = try node.mapping(knownKeys: HealthCheckConfig.knownKeys)
        self.init()
        if let value = mapping.optional("interval") { interval = try value.duration(allowZero: false) }
        if let value = mapping.optional("timeout") { timeout = try value.duration(allowZero: false) }
        if let value = mapping.optional("unhealthy_threshold") { unhealthyThreshold = try value.integer(in: 1...ConfigBounds.maxThreshold) }
        if let value = mapping.optional("healthy_threshold") { healthyThreshold = try value.integer(in: 1...ConfigBounds.maxThreshold) }
        if let value = mapping.optional("service") { service = try value.string() }
    }
}

extension OutlierDetectionConfig {
    static let knownKeys = ["consecutive_failures", "base_ejection_time", "max_ejection_time"]

    init(decoding node: ConfigNode) throws(ConfigError) {
        let mapping = try node.mapping(knownKeys: OutlierDetectionConfig.knownKeys)
        self.init()
        if let value = mapping.optional("consecutive_failures") { consecutiveFailures = try value.integer(in: 0...ConfigBounds.maxThreshold) }
        if let value = mapping.optional("base_ejection_time") { baseEjectionTime = try value.duration(allowZero: false) }
        if let value = mapping.optional("max_ejection_time") {
            maxEjectionTime = try value.duration(allowZero: false)
            if maxEjectionTime < baseEjectionTime {
                throw value.error("must be at least base_ejection_time (\(DurationSyntax.format(baseEjectionTime)))")
            }
        } else if maxEjectionTime < baseEjectionTime {
            throw mapping.keyError("base_ejection_time", "must be at most max_ejection_time (\(DurationSyntax.format(maxEjectionTime)))")
        }
    }
}
