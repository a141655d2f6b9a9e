/// A length-prefixed stream that cannot be forwarded. Each kind maps to exactly one gRPC status, so the proxy can
/// end the call with a trailers-only response (or a trailer frame) without further decisions.
public struct GRPCFrameError: Error, Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// A frame header announced `size` payload bytes, more than the configured `limit`.
        case messageTooLarge(size: Int, limit: Int)
        /// A frame whose flag byte is not allowed in this direction (compressed, trailer, or unknown bits).
        case unsupportedFlags(UInt8)
        /// The stream ended inside a frame (header or payload).
        case truncated
    }

    public var kind: Kind
    /// Human text suitable for `grpc-message` (percent-encode it before sending).
    public var message: String
    /// messageTooLarge -> RESOURCE_EXHAUSTED (what gRPC servers report for oversized messages);
    /// unsupportedFlags and truncated -> INTERNAL (SPEC-COMP uses INTERNAL for an unexpected compressed flag, and
    /// grpc-go/grpc-core report a cut-off message as INTERNAL too: it is a framing fault, not a bad argument).
    public var status: GRPCStatusCode

    public init(kind: Kind, message: String, status: GRPCStatusCode) {
        self.kind = kind
        self.message = message
        self.status = status
    }

    /// `label` names the direction in the message ("request", "response").
    public static func messageTooLarge(size: Int, limit: Int, label: String) -> GRPCFrameError {
        GRPCFrameError(kind: .messageTooLarge(size: size, limit: limit),
                       message: "\(label) message of \(size) bytes exceeds the limit of \(limit)",
                       status: .resourceExhausted)
    }

    public static func unsupportedFlags(_ flags: UInt8, label: String) -> GRPCFrameError {
        GRPCFrameError(kind: .unsupportedFlags(flags),
                       message: "\(label) frame has unsupported flags 0x\(hex2(flags))",
                       status: .internalError)
    }

    public static func truncated(label: String) -> GRPCFrameError {
        GRPCFrameError(kind: .truncated, message: "\(label) body ended inside a gRPC frame", status: .internalError)
    }
}

private func hex2(_ b: UInt8) -> String {
    let digits: [Character] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "A", "B", "C", "D", "E", "F"]
    return String([digits[Int(b >> 4)], digits[Int(b & 0xF)]])
}
