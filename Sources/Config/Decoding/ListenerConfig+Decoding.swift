extension ListenerConfig {
    static let knownKeys = ["name", "address", "websocket", "cors", "routes", "tls", "http2", "forwarded_headers"]

    init(decoding node: ConfigNode) throws(ConfigError) {
        let mapping = try node.mapping(knownKeys: ListenerConfig.knownKeys)
        let name = try mapping.required("name").nonEmptyString()
        let address = try mapping.required("address").address(allowPortZero: true)
        self.init(name: name, address: address)
        if let value = mapping.optional("websocket") { websocket = try value.bool() }
        if let value = mapping.optional("http2") { http2 = try value.bool() }
        if let value = mapping.optional("cors") { cors = try CORSOverrides(decoding: value).merged(over: nil) }
        if let value = mapping.optional("forwarded_headers") { forwardedHeaders = try ForwardedHeadersConfig(decoding: value) }
        if let (value, location) = try mapping.tlsSection() { tls = try DownstreamTLSConfig(decoding: value, location: location) }

        let routesNode = try mapping.required("routes")
        let routeNodes = try routesNode.sequence()
        if routeNodes.isEmpty { throw routesNode.error("a listener needs at least one route") }
        var shadowIndex = RouteShadowIndex()
        routes.reserveCapacity(routeNodes.count)
        for (index, routeNode) in routeNodes.enumerated() {
            var route = try RouteConfig(decoding: routeNode, listenerCORS: cors)
            route.forwardedHeaders = forwardedHeaders
            route.limits?.id = RouteLimits.id(listener: name, route: route.name, among: routes)
            if let earlier = shadowIndex.earlierRouteCovering(route) {
                throw routeNode.error(
                    "unreachable route: routes[\(earlier)] (\(routes[earlier].match)) already matches every request this route would match")
            }
            shadowIndex.insert(route, index: index)
            routes.append(route)
        }
    }
}
