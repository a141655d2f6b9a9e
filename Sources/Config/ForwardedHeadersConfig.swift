/// `forwarded_headers` of a listener: `x-forwarded-for` and `x-forwarded-proto` on every upstream request.
///
/// From a peer inside `trustedProxies`, the client's `x-forwarded-for` is kept and the peer appended, and the
/// client address (rate-limit keys, `%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%`) is the right-most address of the
/// chain that is not a trusted proxy. From any other peer, a client-sent `x-forwarded-for` is replaced by the
/// peer's address (a client cannot forge where it comes from) and `x-forwarded-proto` is always ours.
public struct ForwardedHeadersConfig: Sendable, Equatable {
    public var enabled = true
    public var trustedProxies: [CIDRBlock] = []

    public init(enabled: Bool = true, trustedProxies: [CIDRBlock] = []) {
        self.enabled = enabled
        self.trustedProxies = trustedProxies
    }

    public func isTrusted(_ address: String) -> Bool {
        guard !trustedProxies.isEmpty, let parsed = IPAddressBytes(parsing: address) else { return false }
        return trustedProxies.contains { $0.contains(parsed) }
    }
}

/// An IPv4 or IPv6 address as its 4 or 16 bytes.
public struct IPAddressBytes: Sendable, Equatable {
    public var bytes: [UInt8]

    /// Dotted IPv4 or RFC 4291 IPv6 text (`::` shorthand, an IPv4 tail, no zone); nil otherwise.
    public init?(parsing text: some StringProtocol) {
        if text.contains(":") {
            guard let bytes = IPAddressBytes.parseIPv6(Substring(text)) else { return nil }
            self.bytes = bytes
        } else {
            guard let bytes = IPAddressBytes.parseIPv4(Substring(text)) else { return nil }
            self.bytes = bytes
        }
    }

    static func parseIPv4(_ text: Substring) -> [UInt8]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var bytes: [UInt8] = []
        for part in parts {
            guard (1...3).contains(part.count), part.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                  let value = Int(part), value <= 255 else { return nil }
            bytes.append(UInt8(value))
        }
        return bytes
    }

    static func parseIPv6(_ text: Substring) -> [UInt8]? {
        // Split at the one "::" allowed, if any.
        var halves: [Substring] = []
        var rest = text[...]
        while let range = rest.firstRange(of: "::") {
            halves.append(rest[..<range.lowerBound])
            rest = rest[range.upperBound...]
        }
        halves.append(rest)
        guard halves.count <= 2 else { return nil }
        func groups(_ part: Substring, allowIPv4Tail: Bool) -> [UInt8]? {
            if part.isEmpty { return [] }
            var bytes: [UInt8] = []
            let pieces = part.split(separator: ":", omittingEmptySubsequences: false)
            for (index, piece) in pieces.enumerated() {
                if allowIPv4Tail && index == pieces.count - 1 && piece.contains(".") {
                    guard let v4 = parseIPv4(piece) else { return nil }
                    bytes += v4
                    continue
                }
                guard (1...4).contains(piece.count), let value = UInt16(piece, radix: 16) else { return nil }
                bytes.append(UInt8(value >> 8))
                bytes.append(UInt8(value & 0xFF))
            }
            return bytes
        }
        if halves.count == 1 {
            guard let bytes = groups(halves[0], allowIPv4Tail: true), bytes.count == 16 else { return nil }
            return bytes
        }
        guard let head = groups(halves[0], allowIPv4Tail: false), let tail = groups(halves[1], allowIPv4Tail: true),
              head.count + tail.count <= 14 else { return nil }
        return head + [UInt8](repeating: 0, count: 16 - head.count - tail.count) + tail
    }
}

/// `10.0.0.0/8`, `2001:db8::/32`, or one address (a /32 or /128).
public struct CIDRBlock: Sendable, Equatable, CustomStringConvertible {
    public var network: IPAddressBytes
    public var prefixLength: Int

    public init?(parsing text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let address = IPAddressBytes(parsing: parts[0]) else { return nil }
        let maxBits = address.bytes.count * 8
        var length = maxBits
        if parts.count == 2 {
            guard !parts[1].isEmpty, parts[1].utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), parts[1].count <= 3,
                  let value = Int(parts[1]), value <= maxBits else { return nil }
            length = value
        }
        // Host bits are cleared so `10.1.2.3/8` means 10.0.0.0/8.
        var bytes = address.bytes
        for bit in length..<maxBits { bytes[bit / 8] &= ~(UInt8(0x80) >> UInt8(bit % 8)) }
        network = IPAddressBytes(bytes: bytes)
        prefixLength = length
    }

    init(network: IPAddressBytes, prefixLength: Int) {
        self.network = network
        self.prefixLength = prefixLength
    }

    /// An IPv4 address matches an IPv4 block only (and an IPv4-mapped IPv6 address `::ffff:a.b.c.d` too).
    public func contains(_ address: IPAddressBytes) -> Bool {
        var candidate = address.bytes
        if candidate.count == 16 && network.bytes.count == 4 && candidate[0..<10].allSatisfy({ $0 == 0 })
            && candidate[10] == 0xFF && candidate[11] == 0xFF {
            candidate = Array(candidate[12...])
        }
        guard candidate.count == network.bytes.count else { return false }
        var bits = prefixLength
        var index = 0
        while bits > 0 {
            let mask: UInt8 = bits >= 8 ? 0xFF : ~(UInt8(0xFF) >> UInt8(bits))
            if candidate[index] & mask != network.bytes[index] { return false }
            bits -= 8
            index += 1
        }
        return true
    }

    public var description: String {
        let address: String
        if network.bytes.count == 4 {
            address = network.bytes.map(String.init).joined(separator: ".")
        } else {
            address = stride(from: 0, to: 16, by: 2).map { String(UInt16(network.bytes[$0]) << 8 | UInt16(network.bytes[$0 + 1]), radix: 16) }
                .joined(separator: ":")
        }
        return "\(address)/\(prefixLength)"
    }
}

extension IPAddressBytes {
    init(bytes: [UInt8]) { self.bytes = bytes }
}
