/// A host and port as written in the config: `127.0.0.1:8080`, `[::1]:8080`,
/// `backend.ns.svc:50051`. The host is kept as text (IP literal or DNS name, without the IPv6
/// brackets); resolving it is the transport's job.
public struct SocketAddressSpec: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Why a string is not a valid address.
    public struct ParseError: Error, Sendable, Equatable {
        public var message: String
    }

    /// Parses `host:port` or `[ipv6]:port`. Port 0 is accepted here (listeners in tests bind
    /// port 0); callers that need a real port check `port > 0`.
    public init(parsing text: String) throws(ParseError) {
        let bytes = Array(text.utf8)
        let host: String
        let portBytes: ArraySlice<UInt8>
        if bytes.first == UInt8(ascii: "[") {
            guard let close = bytes.firstIndex(of: UInt8(ascii: "]")) else {
                throw ParseError(message: "invalid address \"\(text)\": missing ']' after the IPv6 address")
            }
            let inner = bytes[1..<close]
            guard SocketAddressSpec.isIPv6Literal(inner) else {
                throw ParseError(message: "invalid address \"\(text)\": \"\(String(decoding: inner, as: UTF8.self))\" is not an IPv6 address")
            }
            guard close + 1 < bytes.count, bytes[close + 1] == UInt8(ascii: ":") else {
                throw ParseError(message: "invalid address \"\(text)\": expected ':port' after ']'")
            }
            host = String(decoding: inner, as: UTF8.self)
            portBytes = bytes[(close + 2)...]
        } else {
            guard let colon = bytes.lastIndex(of: UInt8(ascii: ":")) else {
                throw ParseError(message: "invalid address \"\(text)\": expected host:port")
            }
            let hostBytes = bytes[..<colon]
            if hostBytes.contains(UInt8(ascii: ":")) {
                throw ParseError(message: "invalid address \"\(text)\": write IPv6 addresses in brackets, e.g. \"[::1]:8080\"")
            }
            guard !hostBytes.isEmpty else {
                throw ParseError(message: "invalid address \"\(text)\": missing host (use 0.0.0.0 to listen on every interface)")
            }
            host = String(decoding: hostBytes, as: UTF8.self)
            if let problem = SocketAddressSpec.hostProblem(hostBytes) {
                throw ParseError(message: "invalid address \"\(text)\": \(problem)")
            }
            portBytes = bytes[(colon + 1)...]
        }
        guard !portBytes.isEmpty, portBytes.count <= 5,
              portBytes.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
        else {
            throw ParseError(message: "invalid address \"\(text)\": port must be a number from 0 to 65535")
        }
        let port = portBytes.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
        guard port <= 65535 else {
            throw ParseError(message: "invalid address \"\(text)\": port must be a number from 0 to 65535")
        }
        self.host = host
        self.port = port
    }

    /// `host:port`, with brackets around IPv6 hosts.
    public var description: String {
        host.utf8.contains(UInt8(ascii: ":")) ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// Hex digits, colons and dots (IPv4-mapped tail), optionally a `%zone`; at least two colons.
    static func isIPv6Literal(_ bytes: ArraySlice<UInt8>) -> Bool {
        var address = bytes
        if let percent = bytes.firstIndex(of: UInt8(ascii: "%")) {
            guard percent + 1 < bytes.endIndex else { return false }
            address = bytes[..<percent]
        }
        guard address.filter({ $0 == UInt8(ascii: ":") }).count >= 2 else { return false }
        return address.allSatisfy { byte in
            byte == UInt8(ascii: ":") || byte == UInt8(ascii: ".") || isHexDigit(byte)
        }
    }

    /// nil when the host is a plausible IPv4 literal or DNS name, otherwise what is wrong.
    static func hostProblem(_ bytes: ArraySlice<UInt8>) -> String? {
        let digitsAndDots = bytes.allSatisfy { $0 == UInt8(ascii: ".") || isDigit($0) }
        if digitsAndDots {
            let octets = bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
            let valid = octets.count == 4 && octets.allSatisfy { octet in
                !octet.isEmpty && octet.count <= 3 && octet.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) } <= 255
            }
            return valid ? nil : "\"\(String(decoding: bytes, as: UTF8.self))\" is not a valid IPv4 address"
        }
        guard bytes.count <= 253 else { return "host name is longer than 253 characters" }
        for label in bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false) {
            let valid = !label.isEmpty && label.count <= 63
                && label.first != UInt8(ascii: "-") && label.last != UInt8(ascii: "-")
                && label.allSatisfy { isDigit($0) || isLetter($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") }
            if !valid {
                return "\"\(String(decoding: bytes, as: UTF8.self))\" is not a valid host name"
            }
        }
        return nil
    }

    static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
    static func isLetter(_ byte: UInt8) -> Bool {
        (byte | 0x20) >= UInt8(ascii: "a") && (byte | 0x20) <= UInt8(ascii: "z")
    }
    static func isHexDigit(_ byte: UInt8) -> Bool {
        isDigit(byte) || ((byte | 0x20) >= UInt8(ascii: "a") && (byte | 0x20) <= UInt8(ascii: "f"))
    }
}
