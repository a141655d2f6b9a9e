import FuzzSupport
import GRPCWebCodec

/// gRPC length-prefixed frames: the zero-copy scanner and the copying decoder. Control bytes:
/// [mode, limit, split selector].
/// - mode even: the rest is a raw stream. Both are fed the same pieces; they must agree on every frame boundary,
///   on errors, and the decoder's frames must not depend on how the stream was cut.
/// - mode odd (round trip): the rest is cut into payloads with flags, framed with `GRPCFraming`, and must decode
///   to exactly those frames and scan to the same count.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let mode = input.byte()
    let limitByte = input.byte()
    let selector = input.byte()
    // 0 is a real limit (only empty messages); 255 means "unbounded" to reach big announced lengths.
    let limit = limitByte == 255 ? Int.max : Int(limitByte) * 3
    if mode & 1 == 0 {
        let stream = input.rest
        let whole = run(stream, [0..<stream.count], limit: limit)
        let split = run(stream, splitRanges(count: stream.count, selector: selector), limit: limit)
        fuzzCheck(whole == split, "split \(selector) changed the result: \(split) vs \(whole)")
        return 0
    }
    var frames: [GRPCFrame] = []
    var wire: [UInt8] = []
    let payloads = input.rest
    var start = 0
    var rng = SplitMix64(seed: UInt64(limitByte))
    while start < payloads.count {
        let end = min(payloads.count, start + Int(rng.next() % 50))
        let flags: UInt8 = [0x00, 0x01, 0x80, 0x81][Int(rng.next() & 3)]
        let frame = GRPCFrame(flags: flags, payload: Array(payloads[start..<end]))
        frames.append(frame)
        wire += GRPCFraming.frame(flags: flags, frame.payload)
        start = end
        if payloads.count - start < 3 { break }
    }
    let result = run(wire, splitRanges(count: wire.count, selector: selector), limit: .max)
    fuzzCheck(result.error == nil, "round trip failed: \(String(describing: result.error))")
    fuzzCheck(result.frames == frames, "decoded frames differ from the encoded ones")
    fuzzCheck(result.scannedMessages == frames.filter { !$0.isTrailer }.count, "scanner counted \(result.scannedMessages)")
    return 0
}

private struct Result: Equatable {
    var frames: [GRPCFrame] = []
    var scannedMessages = 0
    var sawTrailer = false
    var atBoundary = true
    var error: GRPCFrameError?
}

/// Feeds both the decoder and the scanner (trailers and compression allowed, as the decoder does) and checks
/// they agree after every piece.
private func run(_ stream: [UInt8], _ ranges: [Range<Int>], limit: Int) -> Result {
    var decoder = GRPCFrameDecoder(maxMessageSize: limit)
    var scanner = GRPCFrameScanner(maxMessageSize: limit, allowTrailerFrames: true, allowCompressed: true)
    var result = Result()
    for range in ranges {
        var decodeError: GRPCFrameError?
        var scanError: GRPCFrameError?
        stream.withUnsafeBytes { all in
            let bytes = UnsafeRawBufferPointer(rebasing: all[range])
            do throws(GRPCFrameError) { try decoder.decode(bytes, into: &result.frames) } catch { decodeError = error }
            do throws(GRPCFrameError) { try scanner.scan(bytes) } catch { scanError = error }
        }
        fuzzCheck(decodeError == scanError, "decoder error \(String(describing: decodeError)), scanner \(String(describing: scanError))")
        if let decodeError {
            result.error = decodeError
            break
        }
        fuzzCheck(decoder.isAtMessageBoundary == scanner.isAtMessageBoundary, "boundary disagreement")
        fuzzCheck(result.frames.filter { !$0.isTrailer }.count == scanner.messageCount, "message count disagreement")
        fuzzCheck(result.frames.contains { $0.isTrailer } == scanner.sawTrailerFrame, "trailer disagreement")
    }
    for frame in result.frames { fuzzCheck(frame.payload.count <= limit, "frame over the limit") }
    result.scannedMessages = scanner.messageCount
    result.sawTrailer = scanner.sawTrailerFrame
    result.atBoundary = decoder.isAtMessageBoundary
    if result.error == nil {
        var finishDecoder: GRPCFrameError?
        var finishScanner: GRPCFrameError?
        do throws(GRPCFrameError) { try decoder.finish() } catch { finishDecoder = error }
        do throws(GRPCFrameError) { try scanner.finish() } catch { finishScanner = error }
        fuzzCheck(finishDecoder == finishScanner, "finish disagreement")
        fuzzCheck((finishDecoder == nil) == result.atBoundary, "finish does not match the boundary")
    }
    return result
}

runLibFuzzer(fuzz)
