import FuzzSupport
import HTTP1Codec

/// HTTP/1.1 request parser on arbitrary bytes. Control bytes: [limits, split selector]; the rest is the stream.
/// Properties: the parser's contract (progress, ranges inside what was consumed, one message at a time) and the
/// same outcome however the stream is cut.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let limits = fuzzHTTP1Limits(input.byte())
    let selector = input.byte()
    checkHTTP1SplitInvariance(input.rest, limits: limits, selector: selector)
    return 0
}

runLibFuzzer(fuzz)
