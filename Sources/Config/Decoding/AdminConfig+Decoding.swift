extension AdminConfig {
    static let knownKeys = ["address", "max_connections"]

    init(decoding node: ConfigNode) throws(ConfigError) {
        let mapping = try node.mapping(knownKeys: AdminConfig.knownKeys)
        self.init(address: try mapping.required("address").address(allowPortZero: true))
        if let value = mapping.optional("max_connections") {
            maxConnections = try value.integer(in: 1...ConfigBounds.maxAdminConnections)
        }
    }
}
