// Codec micro-benchmarks (not tests): MB/s for the per-byte work on the proxy's hot paths.
// Run: swift run -c release CodecBenchmarks   (make bench runs it too). Each benchmark warms up once, then
// runs 10 times; the median is printed. Results feed a checksum so the work cannot be optimised away.
import GRPCWebCodec
import Glibc
import HTTP1Codec
import WebSocketCodec

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Fixed-point formatting without Foundation.
func fixed(_ v: Double, _ digits: Int) -> String {
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let r = (v * scale).rounded() / scale
    var s = String(r)
    if let dot = s.firstIndex(of: ".") {
        let decimals = s.distance(from: dot, to: s.endIndex) - 1
        if decimals < digits { s += String(repeating: "0", count: digits - decimals) }
    }
    return s
}

nonisolated(unsafe) var checksum = 0  // single-threaded benchmark: only main touches it

/// Runs `body` (which processes `bytesPerRun` bytes) and prints the median throughput.
@MainActor func measure(_ name: String, bytesPerRun: Int, _ body: () -> Int) {
    checksum &+= body()
    var times: [Double] = []
    for _ in 0..<10 {
        let t0 = now()
        checksum &+= body()
        times.append(now() - t0)
    }
    times.sort()
    let median = times[times.count / 2]
    let mbps = Double(bytesPerRun) / median / 1e6
    let padded = name + String(repeating: " ", count: max(1, 50 - name.count))
    print("\(padded) \(fixed(mbps, 1)) MB/s   (median of 10, \(fixed(median * 1000, 2)) ms per run)")
}

func bytes(_ n: Int, seed: UInt64 = 42) -> [UInt8] {
    var x = seed
    return (0..<n).map { _ in
        x = x &* 6364136223846793005 &+ 1442695040888963407
        return UInt8(truncatingIfNeeded: x >> 33)
    }
}

// CODEC_BENCH_ONLY=jwt runs only the JWT verification costs (seconds instead of the whole set).
if let only = getenv("CODEC_BENCH_ONLY"), String(cString: only) == "jwt" {
    runJWTVerifyBenchmark()
    exit(0)
}

// HTTP/1.1: a typical gRPC-Web request head (what grpc-web JS sends) with a 16-byte body, parsed 20,000 times.
let request = Array(("POST /test.Echo/Unary HTTP/1.1\r\nHost: proxy.example.com:8080\r\nContent-Type: application/grpc-web+proto\r\n"
    + "X-Grpc-Web: 1\r\nX-User-Agent: grpc-web-javascript/0.1\r\nAccept: */*\r\nOrigin: https://app.example.com\r\n"
    + "Referer: https://app.example.com/\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0\r\n"
    + "grpc-timeout: 10000m\r\nAccept-Encoding: gzip, deflate, br\r\nAccept-Language: en-US,en;q=0.9\r\n"
    + "Content-Length: 21\r\n\r\n").utf8) + [0, 0, 0, 0, 16] + bytes(16)
let requests = 20_000
measure("HTTP/1.1 request parse (\(request.count) B)", bytesPerRun: request.count * requests) {
    var parser = HTTP1RequestParser()
    var n = 0
    request.withUnsafeBytes { raw in
        for _ in 0..<requests {
            var off = 0
            while true {
                let (event, consumed) = try! parser.next(UnsafeRawBufferPointer(rebasing: raw[off...]))
                off += consumed
                if case .end = event { n += 1; break }
                if case .needMoreData = event { break }
            }
        }
    }
    return n
}

// gRPC-Web framing: scan (binary pass-through) and full decode of 1 KiB messages, 16 MiB per run.
let frames: [UInt8] = {
    var out: [UInt8] = []
    let msg = bytes(1024)
    for _ in 0..<(16 << 10) { out += GRPCFraming.frame(msg) }
    return out
}()
measure("gRPC frame scan, 1 KiB messages", bytesPerRun: frames.count) {
    var scanner = GRPCFrameScanner(maxMessageSize: 4 << 20)
    frames.withUnsafeBytes { try! scanner.scan($0) }
    return scanner.messageCount
}
measure("gRPC frame decode, 1 KiB messages", bytesPerRun: frames.count) {
    var decoder = GRPCFrameDecoder(maxMessageSize: 4 << 20)
    var out: [GRPCFrame] = []
    out.reserveCapacity(16 << 10)
    frames.withUnsafeBytes { try! decoder.decode($0, into: &out) }
    return out.count
}

// Base64 (text mode): encode 16 MiB in 64 KiB pieces (each padded, as sent), decode it back in 4 KiB chunks.
let plain = bytes(16 << 20)
var encoded: [UInt8] = []
measure("base64 encode (text responses), 64 KiB pieces", bytesPerRun: plain.count) {
    encoded.removeAll(keepingCapacity: true)
    plain.withUnsafeBytes { raw in
        var off = 0
        while off < raw.count {
            let end = min(off + 65536, raw.count)
            GRPCWebTextEncoder.encodePiece(UnsafeRawBufferPointer(rebasing: raw[off..<end]), into: &encoded)
            off = end
        }
    }
    return encoded.count
}
measure("base64 stream decode (text requests), 4 KiB reads", bytesPerRun: encoded.count) {
    var decoder = Base64StreamDecoder()
    var out: [UInt8] = []
    out.reserveCapacity(plain.count)
    encoded.withUnsafeBytes { raw in
        var off = 0
        while off < raw.count {
            let end = min(off + 4096, raw.count)
            try! decoder.decode(UnsafeRawBufferPointer(rebasing: raw[off..<end]), into: &out)
            off = end
        }
    }
    return out.count
}

// WebSocket: unmasking 16 MiB in place, and decoding masked 16 KiB binary frames.
var masked = bytes(16 << 20)
measure("WebSocket unmask (in place)", bytesPerRun: masked.count) {
    masked.withUnsafeMutableBytes { WebSocketMasking.unmask($0, key: 0x37fa213d, offset: 0) }
    return Int(masked[masked.count / 2])
}
let wsFrames: [UInt8] = {
    var out: [UInt8] = []
    let payload = bytes(16 << 10)
    for _ in 0..<1024 {
        out += [0x82, 0xFE, 0x40, 0x00, 0x37, 0xfa, 0x21, 0x3d]  // FIN+binary, masked, 16-bit length 16384, key
        var p = payload
        p.withUnsafeMutableBytes { WebSocketMasking.unmask($0, key: 0x37fa213d, offset: 0) }
        out += p
    }
    return out
}()
measure("WebSocket frame decode, 16 KiB masked", bytesPerRun: wsFrames.count) {
    var decoder = WebSocketFrameDecoder()
    var events: [WebSocketEvent] = []
    wsFrames.withUnsafeBytes { try! decoder.decode($0, into: &events) }
    return events.count
}

runRouteLookupBenchmarkIfPresent()
runJWTVerifyBenchmark()
print("checksum \(checksum)")
