/// Bounds on HTTP/2 connections from browsers and native gRPC clients (key `limits.http2`).
public struct HTTP2Limits: Sendable, Equatable {
    /// SETTINGS_MAX_CONCURRENT_STREAMS we announce; streams above it are refused (REFUSED_STREAM).
    public var maxConcurrentStreams: Int
    /// SETTINGS_INITIAL_WINDOW_SIZE we grant per stream: request bytes a client may send before the upstream has
    /// taken them (the stream's window is given back only then).
    public var initialStreamWindow: Int
    /// The connection-level window we grant (given back as bytes arrive, so one stalled stream cannot stall the
    /// others).
    public var initialConnectionWindow: Int
    /// SETTINGS_MAX_HEADER_LIST_SIZE, enforced as fields arrive (name + value + 32 per field).
    public var maxHeaderListSize: Int
    /// Rapid reset (CVE-2023-44487): more client RST_STREAMs than this within `abuseWindow` ends the connection
    /// with GOAWAY ENHANCE_YOUR_CALM.
    public var maxResetsPerWindow: Int
    /// PING, SETTINGS, PRIORITY, WINDOW_UPDATE and empty DATA frames allowed within `abuseWindow`.
    public var maxControlFramesPerWindow: Int
    public var abuseWindow: Duration

    public init(maxConcurrentStreams: Int = 100, initialStreamWindow: Int = 256 * 1024,
                initialConnectionWindow: Int = 1024 * 1024, maxHeaderListSize: Int = 64 * 1024,
                maxResetsPerWindow: Int = 200, maxControlFramesPerWindow: Int = 10_000, abuseWindow: Duration = .seconds(10)) {
        self.maxConcurrentStreams = maxConcurrentStreams
        self.initialStreamWindow = initialStreamWindow
        self.initialConnectionWindow = initialConnectionWindow
        self.maxHeaderListSize = maxHeaderListSize
        self.maxResetsPerWindow = maxResetsPerWindow
        self.maxControlFramesPerWindow = maxControlFramesPerWindow
        self.abuseWindow = abuseWindow
    }
}
