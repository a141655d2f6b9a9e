/// How a cluster picks an endpoint for a new stream.
public enum LoadBalancing: String, Sendable, CaseIterable {
    case roundRobin = "round_robin"
    case leastRequest = "least_request"
}
