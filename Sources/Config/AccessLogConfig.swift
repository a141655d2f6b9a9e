/// `access_log:` at the top level: one line per finished call. Absent = no access log.
public struct AccessLogConfig: Sendable, Equatable {
    public enum Destination: Sendable, Equatable {
        case stdout
        case stderr
        /// A file, appended to; reopened on SIGUSR1 (logrotate renames it, then signals).
        case file(String)
    }

    /// One piece of a format string: literal text, or a `%FIELD%` placeholder.
    public enum FormatPiece: Sendable, Equatable {
        case literal(String)
        case field(AccessLogField)
    }

    public enum Format: Sendable, Equatable {
        /// One JSON object per line with every field.
        case json
        case pieces([FormatPiece])
    }

    public var destination: Destination
    public var format: Format
    /// Fraction of calls logged (0...1); errors are sampled the same way.
    public var sample: Double
    /// Only calls that ended with a non-OK grpc-status.
    public var onlyErrors: Bool

    public init(destination: Destination = .stdout, format: Format = .json, sample: Double = 1.0, onlyErrors: Bool = false) {
        self.destination = destination
        self.format = format
        self.sample = sample
        self.onlyErrors = onlyErrors
    }
}

/// The fields of an access-log line: the JSON keys, and the `%NAME%` placeholders of a format string.
public enum AccessLogField: String, Sendable, CaseIterable {
    case startTime = "start_time"
    case durationMs = "duration_ms"
    case listener
    case route
    case cluster
    case upstream
    case path
    case transport
    case httpVersion = "http_version"
    case grpcStatus = "grpc_status"
    case grpcMessage = "grpc_message"
    case requestBytes = "request_bytes"
    case responseBytes = "response_bytes"
    case requestMessages = "request_messages"
    case responseMessages = "response_messages"
    case downstreamAddress = "downstream_address"
    case userAgent = "user_agent"
    case requestID = "request_id"
    case traceID = "trace_id"
}
