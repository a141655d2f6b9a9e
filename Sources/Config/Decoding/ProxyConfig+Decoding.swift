internal import YAML
internal import Glibc

extension ProxyConfig {
    static let knownKeys = [
        "workers", "log_level", "drain_timeout", "limits", "websocket", "listeners", "clusters", "admin",
        "overload", "access_log", "jwt_providers",
    ]

    /// Decodes and validates a whole document. Sections are read in a fixed order (listeners
    /// before clusters, as in the examples); references between sections are checked last.
    init(decoding root: ConfigNode) throws(ConfigError) {
        if root.node.isNull {
            throw ConfigError(file: root.file, line: 1, column: 1, path: "listeners", message: "missing required key \"listeners\"")
        }
        let top = try root.mapping(knownKeys: ProxyConfig.knownKeys)
        self.init()

        if let node = top.optional("workers") {
            if case .scalar("auto", _) = node.node.kind {
                workers = ProxyConfig.onlineCoreCount()
            } else {
                do {
                    workers = try node.integer(in: 1...1024)
                } catch {
                    if error.message.hasPrefix("expected an integer") {
                        throw node.error("expected \"auto\" or a number of workers from 1 to 1024, got \"\(node.node.scalar ?? "")\"")
                    }
                    throw error
                }
            }
        } else {
            workers = ProxyConfig.onlineCoreCount()
        }
        if let node = top.optional("log_level") {
            let name = try node.choice(LogLevel.allCases.map(\.name), what: "log level")
            logLevel = LogLevel(name: name) ?? .info
        }
        if let node = top.optional("drain_timeout") { drainTimeout = try node.duration() }
        if let node = top.optional("limits") { limits = try DownstreamLimits(decoding: node) }
        if let node = top.optional("websocket") { websocket = try WebSocketSettings(decoding: node) }
        if let node = top.optional("overload") { overload = try OverloadConfig(decoding: node) }
        if let node = top.optional("access_log") { accessLog = try AccessLogConfig(decoding: node) }
        if let node = top.optional("jwt_providers") { jwtProviders = try ProxyConfig.decodeJWTProviders(node) }

        let listenersNode = try top.required("listeners")
        let listenerNodes = try listenersNode.sequence()
        if listenerNodes.isEmpty { throw listenersNode.error("at least one listener is required") }
        var listenerNames: [String: String] = [:]
        var listenAddresses = ListenAddressSet()
        for node in listenerNodes {
            let listener = try ListenerConfig(decoding: node)
            let mapping = try node.mapping(knownKeys: ListenerConfig.knownKeys)
            if let first = listenerNames[listener.name] {
                throw try mapping.required("name").error("duplicate listener name \"\(listener.name)\" (also used by \(first))")
            }
            listenerNames[listener.name] = node.path
            if let clash = listenAddresses.clash(with: listener.address) {
                throw try mapping.required("address").error(clash.sameText
                    ? "duplicate listener address \(listener.address) (also used by \(clash.owner))"
                    : "listener address \(listener.address) overlaps \(clash.address) of \(clash.owner): \(clash.reason)")
            }
            listenAddresses.insert(listener.address, owner: node.path)
            listeners.append(listener)
        }

        var clusterNodes: [ConfigNode] = []
        if let node = top.optional("clusters") {
            clusterNodes = try node.sequence()
            var clusterNames: [String: String] = [:]
            for node in clusterNodes {
                let cluster = try ClusterConfig(decoding: node)
                if let first = clusterNames[cluster.name] {
                    let mapping = try node.mapping(knownKeys: ClusterConfig.knownKeys)
                    throw try mapping.required("name").error("duplicate cluster name \"\(cluster.name)\" (also used by \(first))")
                }
                clusterNames[cluster.name] = node.path
                clusters.append(cluster)
            }
        }

        if let node = top.optional("admin") {
            let adminConfig = try AdminConfig(decoding: node)
            if let clash = listenAddresses.clash(with: adminConfig.address) {
                let address = adminConfig.address
                // The address key when written, else the admin section (the default address clashed).
                let at = try node.mapping(knownKeys: AdminConfig.knownKeys).optional("address") ?? node
                throw at.error(clash.sameText
                    ? "admin address \(address) is already used by \(clash.owner)"
                    : "admin address \(address) overlaps \(clash.address) of \(clash.owner): \(clash.reason)")
            }
            admin = adminConfig
        }

        try checkRouteClusters(listenerNodes: listenerNodes)
        try checkRouteJWTProviders(listenerNodes: listenerNodes)
        addClusterHeaderRules()
    }

    /// A cluster's header rules run before those of each route to it (so a route's `set` wins).
    private mutating func addClusterHeaderRules() {
        for cluster in clusters {
            guard let rules = cluster.headerRules else { continue }
            for l in listeners.indices {
                for r in listeners[l].routes.indices where listeners[l].routes[r].cluster == cluster.name {
                    listeners[l].routes[r].headerRules.insert(rules, at: 0)
                }
            }
        }
    }

    /// Every route must name a cluster that exists.
    private func checkRouteClusters(listenerNodes: [ConfigNode]) throws(ConfigError) {
        let names = Set(clusters.map(\.name))
        for (listener, listenerNode) in zip(listeners, listenerNodes) {
            let routeNodes = try listenerNode.mapping(knownKeys: ListenerConfig.knownKeys).required("routes").sequence()
            for (route, routeNode) in zip(listener.routes, routeNodes) where !names.contains(route.cluster) {
                let clusterNode = try routeNode.mapping(knownKeys: RouteConfig.knownKeys).required("cluster")
                throw clusterNode.error("unknown cluster \"\(route.cluster)\"")
            }
        }
    }

    /// `workers: auto`: one event loop per online core, within the accepted range.
    static func onlineCoreCount() -> Int {
        let count = sysconf(Int32(_SC_NPROCESSORS_ONLN))
        return min(max(count, 1), 1024)
    }
}

extension DownstreamLimits {
    static let knownKeys = [
        "max_request_headers_size", "max_headers_count", "max_request_body_size", "max_message_size",
        "header_read_timeout", "idle_timeout", "write_buffer_limit", "max_connections",
        "output_buffer_limit", "request_body_timeout", "max_http_headers_param_size", "http2",
    ]

    init(decoding node: ConfigNode) throws(ConfigError) {
        let mapping = try node.mapping(knownKeys: DownstreamLimits.knownKeys)
        self.init()
        if let value = mapping.optional("max_request_headers_size") { maxRequestHeadersSize = try value.size(in: 1...ConfigBounds.maxHeadersSize) }
        if let value = mapping.optional("max_headers_count") { maxHeadersCount = try value.integer(in: 1...ConfigBounds.maxHeaderCount) }
        if let value = mapping.optional("max_request_body_size") { maxRequestBodySize = try value.size(in: 0...ConfigBounds.maxSize) }
        if let value = mapping.optional("max_message_size") { maxMessageSize = try value.size(in: 1...ConfigBounds.maxSize) }
        if let value = mapping.optional("header_read_timeout") { headerReadTimeout = try value.duration(allowZero: false) }
        if let value = mapping.optional("idle_timeout") { idleTimeout = try value.duration() }
        if let value = mapping.optional("write_buffer_limit") { writeBufferLimit = try value.size(in: 1...ConfigBounds.maxSize) }
        if let value = mapping.optional("max_connections") { maxConnections = try value.integer(in: 1...ConfigBounds.maxConnections) }
        if let value = mapping.optional("output_buffer_limit") { outputBufferLimit = try value.size(in: 1024...ConfigBounds.maxSize) }
        if let value = mapping.optional("request_body_timeout") { requestBodyTimeout = try value.duration() }
        if let value = mapping.optional("max_http_headers_param_size") {
            maxHTTPHeadersParamSize = try value.size(in: 64...ConfigBounds.maxHeadersSize)
        }
        if let value = mapping.optional("http2") { http2 = try HTTP2Limits(decoding: value) }
    }
}

extension HTTP2Limits {
    static let knownKeys = [
        "max_concurrent_streams", "initial_stream_window", "initial_connection_window", "max_header_list_size",
        "max_resets_per_window", "max_control_frames_per_window", "abuse_window",
    ]

    init(decoding node: ConfigNode) throws(ConfigError) {
        let mapping = try node.mapping(knownKeys: HTTP2Limits.knownKeys)
        self.init()
        if let value = mapping.optional("max_concurrent_streams") { maxConcurrentStreams = try value.integer(in: 1...100_000) }
        // HTTP/2 windows are 31-bit; below 64 KiB (the protocol's default) throughput suffers for nothing.
        if let value = mapping.optional("initial_stream_window") { initialStreamWindow = try value.size(in: 65_535...0x7fff_ffff) }
        if let value = mapping.optional("initial_connection_window") { initialConnectionWindow = try value.size(in: 65_535...0x7fff_ffff) }
        if let value = mapping.optional("max_header_list_size") { maxHeaderListSize = try value.size(in: 1024...ConfigBounds.maxHeadersSize) }
        if let value = mapping.optional("max_resets_per_window") { maxResetsPerWindow = try value.integer(in: 1...1_000_000) }
        if let value = mapping.optional("max_control_frames_per_window") { maxControlFramesPerWindow = try value.integer(in: 1...10_000_000) }
        if let value = mapping.optional("abuse_window") { abuseWindow = try value.duration(allowZero: false) }
    }
}

extension OverloadConfig {
    static let knownKeys = ["max_buffered_bytes", "max_rss"]

    init(decoding node: ConfigNode) throws(ConfigError) {
        let mapping = try node.mapping(knownKeys: OverloadConfig.knownKeys)
        self.init()
        // Process-wide budgets may exceed the 1 GiB cap on one buffer: up to 1 TiB.
        if let value = mapping.optional("max_buffered_bytes") { maxBufferedBytes = try value.size(in: 0...(1 << 40)) }
        if let value = mapping.optional("max_rss") { maxRSS = try value.size(in: 0...(1 << 40)) }
    }
}

extension WebSocketSettings {
    static let knownKeys = ["max_frame_size", "max_message_size", "ping_interval", "idle_timeout", "require_origin"]

    init(decoding node: ConfigNode) throws(ConfigError) {
        let mapping = try node.mapping(knownKeys: WebSocketSettings.knownKeys)
        self.init()
        if let value = mapping.optional("max_frame_size") { maxFrameSize = try value.size(in: 1...ConfigBounds.maxSize) }
        if let value = mapping.optional("max_message_size") { maxMessageSize = try value.size(in: 1...ConfigBounds.maxSize) }
        if let value = mapping.optional("ping_interval") { pingInterval = try value.duration() }
        if let value = mapping.optional("idle_timeout") { idleTimeout = try value.duration() }
        if let value = mapping.optional("require_origin") { requireOrigin = try value.bool() }
    }
}
