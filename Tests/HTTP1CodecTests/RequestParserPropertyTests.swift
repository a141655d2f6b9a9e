import XCTest
import HTTP1Codec

/// Seeded random corruption of valid requests: whatever the bytes, the parser must not crash,
/// and the outcome (messages, body bytes, error) must not depend on how the input is split.
final class RequestParserPropertyTests: XCTestCase {
    private let seeds: [String] = [
        "GET /a?b=c HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n",
        "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.0\r\n\r\n",
        "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: 1\r\n\r\n",
    ]

    func testCorruptedRequestsAreSplitInvariant() {
        var rng = SplitMix64(seed: 0xC0FFEE)
        let interesting: [UInt8] = Array("\r\n :;,0aF\t".utf8) + [0, 0x7F, 0xFF]
        let limits = HTTP1Limits(maxHeaderBytes: 120, maxHeaderCount: 4, maxBodyBytes: 64, maxChunkLineBytes: 12)
        for round in 0..<150 {
            var bytes = Array(seeds[round % seeds.count].utf8)
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                let index = Int.random(in: 0..<bytes.count, using: &rng)
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: bytes[index] = interesting.randomElement(using: &rng)!
                case 1: bytes.remove(at: index)
                default: bytes.insert(interesting.randomElement(using: &rng)!, at: index)
                }
            }
            let outcome = parseAllSplits(bytes, limits: limits)
            if let error = outcome.error {
                XCTAssertTrue([400, 413, 431, 501, 505].contains(error.status), "\(error)")
            }
        }
    }
}
