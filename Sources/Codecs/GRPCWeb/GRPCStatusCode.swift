/// gRPC status codes (grpc/grpc `doc/statuscodes.md`), plus the mappings a proxy needs when the upstream never
/// produced a `grpc-status` of its own.
public enum GRPCStatusCode: Int, Sendable {
    case ok = 0, cancelled, unknown, invalidArgument, deadlineExceeded, notFound, alreadyExists, permissionDenied,
         resourceExhausted, failedPrecondition, aborted, outOfRange, unimplemented, internalError, unavailable,
         dataLoss, unauthenticated

    /// HTTP status -> gRPC status per grpc/grpc `doc/http-grpc-status-mapping.md` (PROTOCOLS.md §1.8, first
    /// data column). Only for responses without `grpc-status`; 200 maps to UNKNOWN because a real OK carries one.
    public static func fromHTTPStatus(_ status: Int) -> GRPCStatusCode {
        switch status {
        case 400: return .internalError
        case 401: return .unauthenticated
        case 403: return .permissionDenied
        case 404: return .unimplemented
        case 429: return .unavailable
        case 431: return .internalError
        case 502, 503, 504: return .unavailable
        default: return .unknown
        }
    }

    /// RST_STREAM / GOAWAY error code -> gRPC status per PROTOCOLS.md §4 (SPEC-H2). The spec gives no mapping for
    /// STREAM_CLOSED(5) and HTTP_1_1_REQUIRED(13); like grpc-go they become INTERNAL. Codes outside RFC 9113's
    /// registry become UNKNOWN.
    public static func fromHTTP2ErrorCode(_ code: UInt32) -> GRPCStatusCode {
        switch code {
        case 0, 1, 2, 3, 4, 5, 6, 9, 10, 13: return .internalError
        case 7: return .unavailable        // REFUSED_STREAM: nothing was processed
        case 8: return .cancelled          // CANCEL
        case 11: return .resourceExhausted // ENHANCE_YOUR_CALM
        case 12: return .permissionDenied  // INADEQUATE_SECURITY
        default: return .unknown
        }
    }

    /// Upper-case name as written in the gRPC docs (for logs and access-log details).
    public var name: String {
        switch self {
        case .ok: return "OK"
        case .cancelled: return "CANCELLED"
        case .unknown: return "UNKNOWN"
        case .invalidArgument: return "INVALID_ARGUMENT"
        case .deadlineExceeded: return "DEADLINE_EXCEEDED"
        case .notFound: return "NOT_FOUND"
        case .alreadyExists: return "ALREADY_EXISTS"
        case .permissionDenied: return "PERMISSION_DENIED"
        case .resourceExhausted: return "RESOURCE_EXHAUSTED"
        case .failedPrecondition: return "FAILED_PRECONDITION"
        case .aborted: return "ABORTED"
        case .outOfRange: return "OUT_OF_RANGE"
        case .unimplemented: return "UNIMPLEMENTED"
        case .internalError: return "INTERNAL"
        case .unavailable: return "UNAVAILABLE"
        case .dataLoss: return "DATA_LOSS"
        case .unauthenticated: return "UNAUTHENTICATED"
        }
    }

    /// Parses a `grpc-status` value: decimal 0-16 without sign or whitespace. Other numbers are UNKNOWN (the
    /// spec says unknown codes must be treated as UNKNOWN); non-numeric text is nil.
    public static func parse(_ value: String) -> GRPCStatusCode? {
        var n = 0
        var digits = 0
        for b in value.utf8 {
            guard b >= 0x30 && b <= 0x39 else { return nil }
            if digits < 10 { n = n * 10 + Int(b - 0x30) }
            digits += 1
        }
        guard digits > 0 else { return nil }
        if digits > 9 { return .unknown }
        return GRPCStatusCode(rawValue: n) ?? .unknown
    }
}
