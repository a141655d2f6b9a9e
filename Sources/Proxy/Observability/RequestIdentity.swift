/// The ids that let an operator join our access log with the backend's traces: `x-request-id` (the client's, or
/// a new random 128-bit hex one) and a W3C `traceparent` (the client's when valid, else a new trace). Both go
/// upstream; `tracestate` passes through with the other metadata.
struct RequestIdentity {
    var requestID: String
    var traceparent: String
    /// The 32 hex digits of the trace id (inside `traceparent`).
    var traceID: String
    /// Upstream needs these added (or, for a malformed `traceparent`, replaced).
    private var addRequestID = false
    private var replaceTraceparent = false

    /// One pass over the request's headers (or WebSocket metadata) for the two ids and the user agent.
    /// Names are compared case-insensitively (HTTP/1.1 keeps the client's case).
    static func scan(_ headers: some Sequence<(name: String, value: String)>) -> (requestID: String?, traceparent: String?, userAgent: String?) {
        var requestID: String?, traceparent: String?, userAgent: String?
        for (name, value) in headers {
            switch name.utf8.count {
            case 10: if userAgent == nil, name.equalsLowercaseASCII("user-agent") { userAgent = value }
            case 11: if traceparent == nil, name.equalsLowercaseASCII("traceparent") { traceparent = value }
            case 12: if requestID == nil, name.equalsLowercaseASCII("x-request-id") { requestID = value }
            default: break
            }
        }
        return (requestID, traceparent, userAgent)
    }

    init(requestID: String?, traceparent: String?, random: inout IDRandom) {
        if let requestID, !requestID.isEmpty {
            self.requestID = requestID
        } else {
            self.requestID = random.hex(words: 2)
            addRequestID = true
        }
        if let traceparent, let traceID = Self.validTraceID(traceparent) {
            self.traceparent = traceparent
            self.traceID = traceID
        } else {
            // Absent or malformed: a new trace; we are its first span (sampled, since the backend should record
            // what the operator will look up).
            traceID = random.hex(words: 2)
            self.traceparent = "00-" + traceID + "-" + random.hex(words: 1) + "-01"
            replaceTraceparent = true
        }
    }

    /// The trace id of a valid version-00 `traceparent` (`00-<32 hex>-<16 hex>-<2 hex>`, lowercase, ids not all
    /// zeros), else nil. Later versions are not accepted: their format may differ.
    static func validTraceID(_ value: String) -> String? {
        let utf8 = value.utf8
        guard utf8.count == 55 else { return nil }
        let dash = UInt8(ascii: "-")
        let bytes = Array(utf8)
        guard bytes[0] == 0x30, bytes[1] == 0x30, bytes[2] == dash, bytes[35] == dash, bytes[52] == dash else { return nil }
        func isHex(_ range: Range<Int>) -> Bool {
            bytes[range].allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
        }
        func isZero(_ range: Range<Int>) -> Bool { bytes[range].allSatisfy { $0 == 0x30 } }
        guard isHex(3..<35), isHex(36..<52), isHex(53..<55), !isZero(3..<35), !isZero(36..<52) else { return nil }
        return String(decoding: bytes[3..<35], as: UTF8.self)
    }

    /// Adds the generated ids to the upstream request headers (the client's valid ones are already there, passed
    /// through as metadata).
    func apply(to headers: inout [(String, String)]) {
        if addRequestID { headers.append(("x-request-id", requestID)) }
        if replaceTraceparent {
            headers.removeAll { $0.0 == "traceparent" }
            headers.append(("traceparent", traceparent))
        }
    }
}
