import FuzzSupport
import GRPCWebCodec

/// The small gRPC header codecs a browser or upstream controls: `grpc-timeout`, `grpc-status`, content types.
/// The whole input is one header value. Properties: a parsed timeout re-encodes to a valid value that is never
/// later than the original and within 0.001% of it (or under a microsecond), an encoded timeout always parses;
/// `grpc-status` of any text is nil or a code in 0...16, a number with up to 9 digits is itself or UNKNOWN;
/// content types classify consistently with `looksLikeGRPCWeb`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = FuzzInput(data, size)
    let value = String(decoding: input.bytes, as: UTF8.self)

    if let ns = GRPCTimeout.parse(value) {
        fuzzCheck(ns >= 0, "negative timeout \(ns) from \(value)")
        let encoded = GRPCTimeout.encode(nanoseconds: ns)
        guard let back = GRPCTimeout.parse(encoded) else { fatalError("encoded timeout \(encoded) does not parse") }
        if ns > 0 {
            fuzzCheck(back <= ns, "re-encoded timeout \(encoded) is later than \(value)")
            fuzzCheck(ns - back <= max(ns / 100_000, 1_000), "re-encoding \(value) as \(encoded) lost too much")
        }
    }
    if input.bytes.count >= 8 {
        // Any 64-bit count of nanoseconds encodes to something that parses back no later.
        let ns = input.bytes.prefix(8).reduce(Int64(0)) { $0 << 8 | Int64($1) }
        let encoded = GRPCTimeout.encode(nanoseconds: ns)
        guard let back = GRPCTimeout.parse(encoded) else { fatalError("encoded timeout \(encoded) does not parse") }
        fuzzCheck(encoded.utf8.count <= 9 && (ns <= 0 ? back == 1 : back <= ns), "encode(\(ns)) = \(encoded)")
    }

    if let code = GRPCStatusCode.parse(value) {
        fuzzCheck((0...16).contains(code.rawValue), "status code \(code.rawValue)")
        if value.utf8.count <= 9, let n = Int(value) {
            fuzzCheck(code.rawValue == n || (n > 16 && code == .unknown), "grpc-status \(value) parsed as \(code)")
        }
    }

    if GRPCWebContentType.classify(value) != nil {
        fuzzCheck(GRPCWebContentType.looksLikeGRPCWeb(value), "\(value) classified but does not look like gRPC-Web")
    }
    _ = GRPCWebContentType.responseEncoding(request: .binary, accept: value)
    return 0
}

runLibFuzzer(fuzz)
