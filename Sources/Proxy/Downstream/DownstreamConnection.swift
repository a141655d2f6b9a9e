/// A client connection as the worker sees it, whatever its protocol (HTTP/1.1 or HTTP/2): what a drain and the
/// overload manager need.
protocol DownstreamConnection: AnyObject {
    /// Graceful drain: finish what is in flight, take nothing new, then close.
    func drain()
    /// Closes now; `reset` with a RST (the overload manager dropping a connection that holds a large queue).
    func close(reset: Bool)
    /// Bytes queued toward the client.
    var bufferedResponseBytes: Int { get }
}
