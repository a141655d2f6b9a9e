/// The two `grpc.health.v1` messages, encoded by hand: `HealthCheckRequest { string service = 1; }` and
/// `HealthCheckResponse { ServingStatus status = 1; }`, each in one uncompressed gRPC length-prefixed frame.
/// Pure functions, bounded by their input.
enum HealthCheckCodec {
    static let path = "/grpc.health.v1.Health/Check"

    /// `HealthCheckResponse.ServingStatus`.
    enum ServingStatus: UInt64 {
        case unknown = 0
        case serving = 1
        case notServing = 2
        case serviceUnknown = 3
    }

    /// One gRPC frame holding a HealthCheckRequest for `service` ("" = the server as a whole, sent as an empty
    /// message because proto3 omits default values).
    static func requestFrame(service: String) -> [UInt8] {
        var message: [UInt8] = []
        let name = Array(service.utf8)
        if !name.isEmpty {
            message.append(0x0A)  // field 1, wire type 2 (length-delimited)
            appendVarint(UInt64(name.count), to: &message)
            message += name
        }
        let n = UInt32(message.count)
        return [0, UInt8(n >> 24), UInt8((n >> 16) & 0xFF), UInt8((n >> 8) & 0xFF), UInt8(n & 0xFF)] + message
    }

    enum DecodeError: Error, Equatable {
        case incompleteFrame
        case compressed
        case malformedMessage
    }

    /// The serving status in a response body (one gRPC frame). Unknown enum values come back as `.unknown`;
    /// a missing field is proto3's default, UNKNOWN.
    static func servingStatus(body: [UInt8]) throws(DecodeError) -> ServingStatus {
        guard body.count >= 5 else { throw .incompleteFrame }
        if body[0] & 1 != 0 { throw .compressed }
        let length = Int(body[1]) << 24 | Int(body[2]) << 16 | Int(body[3]) << 8 | Int(body[4])
        guard body.count - 5 >= length else { throw .incompleteFrame }
        var i = 5
        let end = 5 + length
        var status: UInt64 = 0
        while i < end {
            let key = try readVarint(body, &i, end)
            let field = key >> 3
            switch key & 7 {
            case 0:
                let v = try readVarint(body, &i, end)
                if field == 1 { status = v }
            case 1:
                guard end - i >= 8 else { throw .malformedMessage }
                i += 8
            case 2:
                let n = try readVarint(body, &i, end)
                guard n <= UInt64(end - i) else { throw .malformedMessage }
                i += Int(n)
            case 5:
                guard end - i >= 4 else { throw .malformedMessage }
                i += 4
            default:
                throw .malformedMessage
            }
        }
        return ServingStatus(rawValue: status) ?? .unknown
    }

    private static func appendVarint(_ value: UInt64, to out: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            out.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    private static func readVarint(_ bytes: [UInt8], _ i: inout Int, _ end: Int) throws(DecodeError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while i < end && shift < 64 {
            let b = bytes[i]
            i += 1
            result |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return result }
            shift += 7
        }
        throw .malformedMessage
    }
}
