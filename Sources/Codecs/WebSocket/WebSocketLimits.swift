/// Size limits applied by `WebSocketFrameDecoder`. Both bound memory per connection: a frame header announcing
/// more than `maxFrameSize` is refused before any of its payload is buffered.
public struct WebSocketLimits: Sendable, Equatable {
    /// Largest payload a single frame may announce.
    public var maxFrameSize: Int
    /// Largest reassembled data message (sum of its fragments).
    public var maxMessageSize: Int

    public init(maxFrameSize: Int = 4 << 20, maxMessageSize: Int = 4 << 20) {
        precondition(maxFrameSize >= 0 && maxMessageSize >= 0, "WebSocket limits must not be negative")
        self.maxFrameSize = maxFrameSize
        self.maxMessageSize = maxMessageSize
    }
}
