/// A request the parser refuses. `status` is the response to send before closing the
/// connection: 400 (malformed), 413 (body too large), 431 (header section too large or too many
/// fields), 501 (unsupported transfer coding), 505 (HTTP version other than 1.0/1.1).
public struct HTTP1ParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public var status: Int
    /// Short human text for logs and the error body, e.g. "both Content-Length and Transfer-Encoding".
    public var reason: String

    public init(status: Int, reason: String) {
        self.status = status
        self.reason = reason
    }

    public var description: String { "\(status) \(reason)" }

    static func badRequest(_ reason: String) -> HTTP1ParseError { .init(status: 400, reason: reason) }
    static func tooLarge(_ reason: String) -> HTTP1ParseError { .init(status: 413, reason: reason) }
    static func headersTooLarge(_ reason: String) -> HTTP1ParseError { .init(status: 431, reason: reason) }
    static func notImplemented(_ reason: String) -> HTTP1ParseError { .init(status: 501, reason: reason) }
    static func versionNotSupported(_ reason: String) -> HTTP1ParseError { .init(status: 505, reason: reason) }
}
