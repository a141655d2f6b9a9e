import FuzzSupport
import GRPCWebCodec

/// Base64: the streaming text-body decoder and the `-bin` decoder. Control bytes: [mode, split selector].
/// - mode even: the rest is text. The stream decoder must give the same bytes and the same error (with its
///   absolute offset) however the text is cut; whatever `Base64.decode` accepts with a length divisible by 4
///   the stream decoder must accept with the same bytes.
/// - mode odd (round trip): the rest is binary, encoded in pieces (each padded, as the text encoder sends them);
///   the stream decoder must give back the original bytes, and `Base64.decode` each piece.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let mode = input.byte()
    let selector = input.byte()
    let rest = input.rest
    if mode & 1 == 0 {
        let whole = decodeStream(rest, [0..<rest.count])
        let split = decodeStream(rest, splitRanges(count: rest.count, selector: selector))
        fuzzCheck(whole.bytes == split.bytes && whole.error == split.error,
                  "split \(selector) changed the result: \(split) vs \(whole)")
        if rest.count % 4 == 0, let strict = rest.withUnsafeBytes({ Base64.decode($0) }) {
            fuzzCheck(whole.error == nil && whole.bytes == strict, "stream decoder disagrees with Base64.decode")
        }
        return 0
    }
    var text: [UInt8] = []
    var start = 0
    var rng = SplitMix64(seed: UInt64(mode))
    while start < rest.count {
        let end = min(rest.count, start + 1 + Int(rng.next() % 20))
        var piece: [UInt8] = []
        rest[start..<end].withUnsafeBytes { GRPCWebTextEncoder.encodePiece($0, into: &piece) }
        fuzzCheck(piece.count == GRPCWebTextEncoder.encodedLength(end - start), "encodedLength is wrong")
        let back = piece.withUnsafeBytes { Base64.decode($0) }
        fuzzCheck(back.map { $0[...] } == rest[start..<end], "Base64.decode(encode(x)) != x")
        fuzzCheck(Base64.encode(Array(rest[start..<end])).utf8.elementsEqual(piece), "String and byte encoders differ")
        text += piece
        start = end
    }
    let decoded = decodeStream(text, splitRanges(count: text.count, selector: selector))
    fuzzCheck(decoded.error == nil && decoded.bytes == rest, "stream round trip failed: \(decoded)")
    return 0
}

private func decodeStream(_ text: [UInt8], _ ranges: [Range<Int>]) -> (bytes: [UInt8], error: Base64Error?) {
    var decoder = Base64StreamDecoder()
    var out: [UInt8] = []
    for range in ranges {
        let before = out.count
        do throws(Base64Error) {
            try withBytes(text, range) { (piece) throws(Base64Error) in try decoder.decode(piece, into: &out) }
        } catch {
            return (out, error)
        }
        fuzzCheck(out.count - before <= range.count * 3 / 4 + 3, "decoder wrote more than 3/4 of its input plus 3")
    }
    do throws(Base64Error) { try decoder.finish() } catch { return (out, error) }
    return (out, nil)
}

runLibFuzzer(fuzz)
