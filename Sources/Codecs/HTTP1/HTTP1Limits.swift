/// Bounds on everything the request parser buffers or accepts. Defaults follow Envoy's
/// (60 KiB of headers, 100 fields).
public struct HTTP1Limits: Sendable, Equatable {
    /// Bytes of the request head: from the first byte of the request line through the LF of the
    /// blank line that ends the header section (leading empty lines skipped before the request
    /// line are not counted). A head of exactly this size is accepted; one byte more -> 431.
    /// Also bounds a chunked body's trailer section, counted the same way.
    public var maxHeaderBytes: Int = 60 * 1024
    /// Header fields (and, separately, trailer fields) allowed; one more -> 431.
    public var maxHeaderCount: Int = 100
    /// Body bytes (after de-chunking) allowed; one more -> 413. 0 = unlimited.
    public var maxBodyBytes: Int = 16 * 1024 * 1024
    /// Bytes of one chunk-size line including its extensions and CRLF; one more -> 400.
    /// Extensions are ignored, so this only has to fit real-world sizes plus a little slack.
    public var maxChunkLineBytes: Int = 4 * 1024

    public init(maxHeaderBytes: Int = 60 * 1024, maxHeaderCount: Int = 100,
                maxBodyBytes: Int = 16 * 1024 * 1024, maxChunkLineBytes: Int = 4 * 1024) {
        self.maxHeaderBytes = maxHeaderBytes
        self.maxHeaderCount = maxHeaderCount
        self.maxBodyBytes = maxBodyBytes
        self.maxChunkLineBytes = maxChunkLineBytes
    }
}
