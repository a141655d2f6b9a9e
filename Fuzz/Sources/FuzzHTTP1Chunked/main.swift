import FuzzSupport
import HTTP1Codec

private let chunkedHead = Array("POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)

/// Chunked body decoding. Control bytes: [mode, limits, split selector].
/// - mode even: the rest is a raw chunked body after a fixed chunked head; split invariance and contract.
/// - mode odd (round trip): the rest is a body, cut into chunks by the fuzzer's bytes, encoded with the response
///   writer's chunk encoder (plus optional extensions and a trailer), parsed back; the body must come back intact.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let mode = input.byte()
    let limitsByte = input.byte()
    let selector = input.byte()
    if mode & 1 == 0 {
        checkHTTP1SplitInvariance(chunkedHead + input.rest, limits: fuzzHTTP1Limits(limitsByte), selector: selector)
        return 0
    }
    let body = input.rest
    var wire = chunkedHead
    var rng = SplitMix64(seed: UInt64(limitsByte))
    var start = 0
    while start < body.count {
        let end = min(body.count, start + 1 + Int(rng.next() % 40))
        if mode & 2 != 0 {
            // Extensions are ignored by the parser; put them on the size line by hand.
            wire += Array(String(end - start, radix: 16, uppercase: rng.next() & 1 == 0).utf8) + Array(";ext=\"v\"\r\n".utf8)
            wire += body[start..<end] + [13, 10]
        } else {
            body[start..<end].withUnsafeBytes { HTTP1ResponseWriter.writeChunk($0, into: &wire) }
        }
        start = end
    }
    wire += Array("0\r\n".utf8)
    if mode & 4 != 0 { wire += Array("X-Trailer: t\r\n".utf8) }
    wire += [13, 10]
    let outcome = checkHTTP1SplitInvariance(wire, limits: HTTP1Limits(maxBodyBytes: 0), selector: selector)
    fuzzCheck(outcome.error == nil, "valid chunked body rejected: \(String(describing: outcome.error))")
    fuzzCheck(outcome.messages.count == 1 && outcome.messages[0].ended, "expected one complete message")
    fuzzCheck(outcome.messages.first?.body == body, "chunked round trip changed the body")
    return 0
}

runLibFuzzer(fuzz)
