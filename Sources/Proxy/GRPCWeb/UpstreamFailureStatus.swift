import GRPCWebCodec
import Upstream

/// How a call ends when the upstream did not give a gRPC status itself (shared by gRPC-Web and WebSocket calls).
enum UpstreamFailureStatus {
    /// The status for a stream that ended without a usable gRPC answer.
    static func status(for failure: UpstreamFailure) -> (GRPCStatusCode, String) {
        switch failure {
        case .reset(let code):
            return (GRPCStatusCode.fromHTTP2ErrorCode(code), "upstream reset the stream (HTTP/2 error code \(code))")
        case .connectFailed(let why):
            return (.unavailable, "upstream connect error: \(why)")
        case .connectionLost(let why), .overloaded(let why), .noEndpoint(let why):
            return (.unavailable, why)
        case .headerListTooLarge(let limit):
            return (.internalError, "the upstream's header list exceeded \(limit) bytes")
        }
    }

    /// A non-gRPC upstream answer (e.g. a 503 page from a load balancer): the HTTP→gRPC table's status, with the
    /// start of the body as the message (PROTOCOLS.md §1.8).
    static func status(forHTTPStatus status: Int, body: [UInt8]) -> (GRPCStatusCode, String) {
        var message = String(decoding: body, as: UTF8.self).trimmingWhitespace()
        if message.isEmpty { message = "upstream answered HTTP \(status) without gRPC status" }
        return (GRPCStatusCode.fromHTTPStatus(status), message)
    }

    /// How much of a non-gRPC body is kept for the message.
    static let nonGRPCBodyLimit = 16 * 1024
}

extension String {
    func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return String(s)
    }
}
