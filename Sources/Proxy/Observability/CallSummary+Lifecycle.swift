import EventLoop
import GRPCWebCodec
import Glibc
import HTTP1Codec

extension CallSummary {
    /// A call's summary as it starts: where it came from, what it asked for, its ids. `metadata` holds the ids
    /// and the user agent (the request headers; a WebSocket call's metadata block adds its own later).
    init(listener: String, path: String, transport: Transport, httpVersion: String, downstreamAddress: String,
         userAgent: String?) {
        self.init()
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        startUnixNanos = Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
        startMonotonicNanos = MonotonicClock.nowNanos()
        self.listener = listener
        self.path = path
        self.transport = transport
        self.httpVersion = httpVersion
        self.downstreamAddress = downstreamAddress
        self.userAgent = userAgent ?? ""
    }

    /// Resolves the request's ids (keeping valid ones, generating the others) and notes them.
    mutating func identify(_ headers: some Sequence<(name: String, value: String)>, random: inout IDRandom) -> RequestIdentity {
        let found = RequestIdentity.scan(headers)
        if userAgent.isEmpty, let agent = found.userAgent { userAgent = agent }
        let identity = RequestIdentity(requestID: found.requestID, traceparent: found.traceparent, random: &random)
        requestID = identity.requestID
        traceID = identity.traceID
        return identity
    }

    mutating func routed(_ name: String, cluster: String) {
        route = name
        self.cluster = cluster
    }

    /// The call ended with `status`; `message` as sent (percent-encoded), decoded here only when not empty.
    mutating func end(status: Int, encodedMessage: String?) {
        durationNanos = MonotonicClock.nowNanos() &- startMonotonicNanos
        grpcStatus = status
        if let encodedMessage, !encodedMessage.isEmpty {
            grpcMessage = Self.truncated(GRPCMessageEncoding.percentDecode(encodedMessage), maxBytes: Self.maxMessageBytes)
        }
    }

    /// The same, for the status fields of a final block.
    mutating func end(fields: [(String, String)]) {
        var status = 2
        var message: String?
        for (name, value) in fields {
            if name == "grpc-status" { status = Int(value) ?? 2 } else if name == "grpc-message" { message = value }
        }
        end(status: status, encodedMessage: message)
    }

    static let maxMessageBytes = 256

    /// At most `maxBytes` of UTF-8, cut at a character boundary.
    static func truncated(_ s: String, maxBytes: Int) -> String {
        guard s.utf8.count > maxBytes else { return s }
        var end = s.utf8.index(s.utf8.startIndex, offsetBy: maxBytes)
        while end > s.utf8.startIndex && (s.utf8[end] & 0xC0) == 0x80 {
            end = s.utf8.index(before: end)
        }
        return String(decoding: s.utf8[..<end], as: UTF8.self)
    }
}

extension CallSummary {
    /// grpc-message of a call the client abandoned (no status was sent to anyone: this is for the log).
    static let clientCancelledMessage = "cancelled by the client"
}
