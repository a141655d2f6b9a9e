/// Limits and timers for grpc-websockets connections (top-level key `websocket:`).
public struct WebSocketSettings: Sendable {
    /// Largest single frame accepted (`max_frame_size`); above it: close 1009.
    public var maxFrameSize: Int
    /// Largest reassembled message (`max_message_size`).
    public var maxMessageSize: Int
    /// Server PING period (`ping_interval`); 0 = off.
    public var pingInterval: Duration
    /// Close after this long without any frame (`idle_timeout`); 0 = off.
    public var idleTimeout: Duration
    /// Refuse upgrades without an `Origin` header (`require_origin`).
    public var requireOrigin: Bool

    public init(
        maxFrameSize: Int = 4 * 1024 * 1024, maxMessageSize: Int = 4 * 1024 * 1024,
        pingInterval: Duration = .seconds(30), idleTimeout: Duration = .seconds(300),
        requireOrigin: Bool = false
    ) {
        self.maxFrameSize = maxFrameSize
        self.maxMessageSize = maxMessageSize
        self.pingInterval = pingInterval
        self.idleTimeout = idleTimeout
        self.requireOrigin = requireOrigin
    }
}
