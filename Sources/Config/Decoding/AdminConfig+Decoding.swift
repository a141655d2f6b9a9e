extension AdminConfig {
    static let knownKeys = ["address", "max_connections", "recent_failed_calls"]

    init(decoding node: ConfigNode) throws(ConfigError) {
        let mapping = try node.mapping(knownKeys: AdminConfig.knownKeys)
        self.init()
        if let value = mapping.optional("address") { address = try value.address(allowPortZero: true) }
        if let value = mapping.optional("max_connections") {
            maxConnections = try value.integer(in: 1...ConfigBounds.maxAdminConnections)
        }
        if let value = mapping.optional("recent_failed_calls") {
            recentFailedCalls = try value.integer(in: 0...ConfigBounds.maxRecentFailedCalls)
        }
    }
}
