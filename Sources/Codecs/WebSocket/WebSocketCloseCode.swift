/// Close status codes (RFC 6455 §7.4.1) the proxy sends or receives. A namespace of `UInt16` constants rather than
/// an enum because peers may send any registered or private code (3000-4999) and we must echo those unchanged.
public enum WebSocketCloseCode {
    public static let normal: UInt16 = 1000
    public static let goingAway: UInt16 = 1001
    public static let protocolError: UInt16 = 1002
    public static let unsupportedData: UInt16 = 1003
    public static let invalidPayload: UInt16 = 1007
    public static let policyViolation: UInt16 = 1008
    public static let messageTooBig: UInt16 = 1009
    public static let internalError: UInt16 = 1011

    /// Whether `code` may appear on the wire in a close frame (RFC 6455 §7.4). 1004 is reserved, and 1005, 1006 and
    /// 1015 are only for local reporting, so a peer that sends them (or anything below 1000, or the unassigned
    /// 1012-2999 range) has made a protocol error.
    public static func isValidOnWire(_ code: UInt16) -> Bool {
        switch code {
        case 1000...1003, 1007...1011, 3000...4999: return true
        default: return false
        }
    }
}
