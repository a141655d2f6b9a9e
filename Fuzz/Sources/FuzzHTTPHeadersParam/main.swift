import FuzzSupport
import GRPCWebCodec

/// The `$httpHeaders` query parameter (calls sent without a CORS preflight): any page can put any bytes there.
/// Input: one control byte (the field limit), then a request target. Properties: finding and decoding never crash;
/// a found parameter leaves a target without it; decoded fields are valid tokens with clean values, unique, not
/// forbidden and within the limits; and encoding them again as the official client does (`name:value\r\n`,
/// encodeURIComponent) decodes to the same fields.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let maxFields = Int(input.byte() % 16) + 1
    let target = "/a.B/C?" + String(decoding: input.rest, as: UTF8.self)

    guard let found = try? HTTPHeadersParam.find(in: target) else { return 0 }
    fuzzCheck(found.remainingTarget.hasPrefix("/a.B/C"), "remaining target \(found.remainingTarget) lost the path")
    fuzzCheck((try? HTTPHeadersParam.find(in: found.remainingTarget)) == .some(nil),
              "the parameter is still in \(found.remainingTarget)")
    guard let fields = try? HTTPHeadersParam.decode(found.encodedValue, maxEncodedSize: 4096, maxFields: maxFields) else { return 0 }
    fuzzCheck(!fields.isEmpty && fields.count <= maxFields, "\(fields.count) fields with a limit of \(maxFields)")
    for (i, (name, value)) in fields.enumerated() {
        fuzzCheck(!name.isEmpty && name.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: ":") }, "bad name \(name)")
        fuzzCheck(HTTPHeadersParam.forbiddenReason(name) == nil, "forbidden name \(name) accepted")
        fuzzCheck(!value.utf8.contains { ($0 < 0x20 && $0 != 0x09) || $0 == 0x7F }, "control byte in the value of \(name)")
        fuzzCheck(value.utf8.first.map { $0 != 0x20 && $0 != 0x09 } ?? true, "untrimmed value of \(name)")
        for other in fields[..<i] { fuzzCheck(other.0.lowercased() != name.lowercased(), "duplicate \(name)") }
    }
    var block = ""
    for (name, value) in fields { block += "\(name):\(value)\r\n" }
    let reencoded = encodeURIComponent(block)
    guard let again = try? HTTPHeadersParam.decode(Substring(reencoded), maxEncodedSize: Int.max, maxFields: maxFields) else {
        fatalError("re-encoded block \(reencoded) does not decode")
    }
    fuzzCheck(again.map(\.0) == fields.map(\.0) && again.map(\.1) == fields.map(\.1), "round trip changed \(fields) to \(again)")
    return 0
}

/// JavaScript's encodeURIComponent on UTF-8 bytes.
private func encodeURIComponent(_ s: String) -> String {
    let hex = Array("0123456789ABCDEF".utf8)
    var out: [UInt8] = []
    for b in s.utf8 {
        switch b {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "!"), UInt8(ascii: "~"), UInt8(ascii: "*"),
             UInt8(ascii: "'"), UInt8(ascii: "("), UInt8(ascii: ")"):
            out.append(b)
        default:
            out += [UInt8(ascii: "%"), hex[Int(b >> 4)], hex[Int(b & 15)]]
        }
    }
    return String(decoding: out, as: UTF8.self)
}

runLibFuzzer(fuzz)
