import FuzzSupport
import JSON

/// The JSON codec (JWT headers and payloads, JWKS documents) on arbitrary bytes. Control byte: [depth limit].
/// Properties: a value or a JSONError whose offset lies inside the input, never a crash or a stack overflow
/// (nesting is bounded by maxDepth), the same bytes always give the same outcome, and base64url decoding is the
/// exact inverse of encoding (one spelling per byte string).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let depth = Int(input.byte() % 64)
    let bytes = input.rest
    let first = outcome(bytes, depth: depth)
    fuzzCheck(outcome(bytes, depth: depth) == first, "parsing the same bytes twice differed")
    if let decoded = Base64URL.decode(bytes) {
        fuzzCheck(Array(Base64URL.encode(decoded).utf8) == bytes, "base64url decode accepted a second spelling")
    }
    return 0
}

private func outcome(_ bytes: [UInt8], depth: Int) -> String {
    do throws(JSONError) {
        return "\(try JSONParser.parse(bytes, limits: JSONLimits(maxBytes: 1 << 20, maxDepth: depth)))"
    } catch {
        fuzzCheck(error.offset >= 0 && error.offset <= bytes.count, "error offset \(error.offset) outside the input")
        return "error \(error)"
    }
}

runLibFuzzer(fuzz)
