/// The header block an HTTP/2 connection is receiving (a request on the server side, a response or trailers on
/// the client side), with its size as SETTINGS_MAX_HEADER_LIST_SIZE counts it (RFC 9113 §6.5.2: name + value + 32
/// per field). Past the limit nothing more is kept: a block that decodes to far more than it weighs on the wire
/// (an HPACK bomb) costs a counter, not memory. HTTP/2 sends a block's frames back to back (HEADERS then
/// CONTINUATION, nothing interleaved), so one block per connection is ever in progress.
public struct HeaderBlock {
    private var streamID: Int32 = 0
    private var fields: [(String, String)] = []
    private var bytes = 0
    /// The block went over the limit: its fields were dropped and the rest are ignored.
    private var overflowed = false

    public init() {}

    public mutating func begin(_ id: Int32) {
        streamID = id
        fields = []
        // gRPC requests and responses carry 5 to 15 fields: one allocation instead of four growth steps.
        fields.reserveCapacity(16)
        bytes = 0
        overflowed = false
    }

    /// Adds a field; false (and the block dropped) once the list exceeds `limit` bytes.
    public mutating func add(streamID id: Int32, name: UnsafeBufferPointer<UInt8>, value: UnsafeBufferPointer<UInt8>, limit: Int) -> Bool {
        // nghttp2 always announces a block first; a field of another stream would mean a new block.
        if id != streamID { begin(id) }
        if overflowed { return false }
        bytes += name.count + value.count + 32
        if bytes > limit {
            overflowed = true
            fields = []
            return false
        }
        fields.append((String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self)))
        return true
    }

    /// The complete block for `id`, or nil if the current block is another stream's or went over the limit.
    public mutating func take(_ id: Int32) -> [(String, String)]? {
        guard id == streamID, !overflowed else { return nil }
        streamID = 0
        let complete = fields
        fields = []
        return complete
    }

    /// Drops the block if it belongs to a stream that closed mid-block.
    public mutating func discard(_ id: Int32) {
        if id == streamID { begin(0) }
    }
}
