import FuzzSupport
import WebSocketCodec

/// The grpc-websockets request metadata block. Control bytes: [limits]; the rest is the block.
/// Properties: accepted fields are valid (token names, lower-case; visible-ASCII values, trimmed), the limits
/// hold, and an accepted block written back as `name: value\r\n` lines parses to the same fields.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let limits = input.byte()
    let maxSize = limits == 0 ? 64 * 1024 : Int(limits) * 2
    let maxCount = limits == 0 ? 100 : Int(limits & 7)
    let block = input.rest
    guard let fields = try? GRPCWebSocketsMetadata.parse(block, maxSize: maxSize, maxCount: maxCount) else { return 0 }
    fuzzCheck(block.count <= maxSize && fields.count <= maxCount, "limits not enforced")
    var rewritten: [UInt8] = []
    for (name, value) in fields {
        fuzzCheck(!name.isEmpty && name.utf8.allSatisfy { GRPCWebSocketsMetadataCheck.isLowerToken($0) }, "bad name \(name)")
        fuzzCheck(value.utf8.allSatisfy { $0 == 0x09 || ($0 >= 0x20 && $0 <= 0x7E) }, "bad value")
        fuzzCheck(value.utf8.first.map { $0 != 0x20 && $0 != 0x09 } ?? true, "value not trimmed")
        fuzzCheck(value.utf8.last.map { $0 != 0x20 && $0 != 0x09 } ?? true, "value not trimmed")
        rewritten += Array("\(name): \(value)\r\n".utf8)
    }
    let again = try? GRPCWebSocketsMetadata.parse(rewritten, maxSize: .max, maxCount: .max)
    fuzzCheck(again.map { $0.map { $0.0 } == fields.map { $0.0 } && $0.map { $0.1 } == fields.map { $0.1 } } ?? false,
              "rewritten metadata parsed differently")
    return 0
}

enum GRPCWebSocketsMetadataCheck {
    static func isLowerToken(_ b: UInt8) -> Bool {
        if b >= 0x41 && b <= 0x5A { return false }
        if (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39) { return true }
        return Array("!#$%&'*+-.^_`|~".utf8).contains(b)
    }
}

runLibFuzzer(fuzz)
