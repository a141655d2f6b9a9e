import FuzzSupport
import GRPCWebCodec

/// gRPC-Web trailer blocks and `grpc-message` percent-encoding. Control byte: [mode].
/// - mode even: the rest is a header block for `GRPCTrailers.parseBlock`: names come back lower-case, without
///   ':' and trimmed, values trimmed; and `percentDecode(percentEncode(s)) == s` for the rest as text.
/// - mode odd (round trip): the rest is cut into (name, value) fields, encoded as a 0x80 trailer frame, and the
///   frame's block must parse back to the encoder's documented output (names lower-cased, duplicates joined with
///   ", ", CR/LF/NUL in values turned into spaces, blanks trimmed by the parser).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let mode = input.byte()
    let rest = input.rest
    if mode & 1 == 0 {
        for (name, value) in GRPCTrailers.parseBlock(rest) {
            fuzzCheck(!name.isEmpty && !name.utf8.contains(UInt8(ascii: ":")), "bad parsed name \(name)")
            fuzzCheck(!name.utf8.contains { $0 >= 0x41 && $0 <= 0x5A }, "name not lower-cased: \(name)")
            fuzzCheck(trimmed(value) == value && trimmed(name) == name, "untrimmed field")
        }
        let text = String(decoding: rest, as: UTF8.self)
        let encoded = GRPCMessageEncoding.percentEncode(text)
        fuzzCheck(encoded.utf8.allSatisfy { $0 >= 0x20 && $0 <= 0x7E }, "percent-encoding left a non-literal byte")
        fuzzCheck(GRPCMessageEncoding.percentDecode(encoded) == text, "percent round trip changed the text")
        return 0
    }

    // Fields: names from token characters (what HTTP/2 delivers), values arbitrary.
    var fields: [(String, String)] = []
    var i = 0
    while i < rest.count {
        let nameLength = 1 + Int(rest[i] % 4)
        let valueLength = Int(rest[i] >> 2) % 12
        i += 1
        let nameBytes = rest[min(i, rest.count)..<min(i + nameLength, rest.count)].map { tokenAlphabet[Int($0) % tokenAlphabet.count] }
        i += nameLength
        let valueBytes = rest[min(i, rest.count)..<min(i + valueLength, rest.count)]
        i += valueLength
        if nameBytes.isEmpty { break }
        fields.append((String(decoding: nameBytes, as: UTF8.self), String(decoding: valueBytes, as: UTF8.self)))
    }
    let frame = GRPCTrailers.frame(fields)
    fuzzCheck(frame.count >= 5 && frame[0] == 0x80, "trailer frame without its header")
    let length = Int(frame[1]) << 24 | Int(frame[2]) << 16 | Int(frame[3]) << 8 | Int(frame[4])
    fuzzCheck(length == frame.count - 5, "trailer frame length \(length) for \(frame.count - 5) bytes")
    let parsed = GRPCTrailers.parseBlock(Array(frame[5...]))
    let expected = expectedTrailers(fields)
    fuzzCheck(parsed.map { $0.0 } == expected.map { $0.0 } && parsed.map { $0.1 } == expected.map { $0.1 },
              "trailers round trip: \(parsed) vs \(expected)")
    return 0
}

private let tokenAlphabet = Array("abcXYZ019-_.!#$%&'*+^`|~".utf8)

private func isBlank(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 }

private func trimmed(_ s: String) -> String {
    var bytes = Array(s.utf8)[...]
    while let f = bytes.first, isBlank(f) { bytes = bytes.dropFirst() }
    while let l = bytes.last, isBlank(l) { bytes = bytes.dropLast() }
    return String(decoding: bytes, as: UTF8.self)
}

/// The encoder's documented behaviour, written independently of it.
private func expectedTrailers(_ fields: [(String, String)]) -> [(String, String)] {
    var order: [String] = []
    var values: [String: [String]] = [:]
    for (name, value) in fields {
        let lower = String(decoding: name.utf8.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }, as: UTF8.self)
        if values[lower] == nil { order.append(lower) }
        let clean = String(decoding: value.utf8.map { $0 == 0x0D || $0 == 0x0A || $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
        values[lower, default: []].append(clean)
    }
    return order.map { ($0, trimmed(values[$0]!.joined(separator: ", "))) }
}

runLibFuzzer(fuzz)
