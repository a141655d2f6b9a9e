import XCTest

/// Deterministic RNG (SplitMix64) so random chunkings and data are reproducible from the seed in a failure.
struct SeededRNG: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func randomBytes(_ count: Int, _ rng: inout SeededRNG) -> [UInt8] {
    (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) }
}

/// Every way a test feeds `count` bytes to an incremental decoder: whole, split at every byte boundary (including
/// the empty first/last chunk), one byte at a time, and `randomRuns` random chunkings (sizes 0...17 and larger)
/// from a seeded RNG. Each chunking is a list of ranges that together cover 0..<count in order.
func chunkings(count: Int, seed: UInt64 = 0x5EED, randomRuns: Int = 25) -> [[Range<Int>]] {
    var result: [[Range<Int>]] = [[0..<count]]
    for k in 0...count { result.append([0..<k, k..<count]) }
    result.append((0..<count).map { $0..<($0 + 1) })
    var rng = SeededRNG(seed: seed ^ UInt64(count))
    for run in 0..<randomRuns {
        var ranges: [Range<Int>] = []
        var at = 0
        let maxChunk = run % 2 == 0 ? 17 : max(1, count / 3)
        while at < count {
            let size = min(Int.random(in: 0...maxChunk, using: &rng), count - at)
            ranges.append(at..<(at + size))
            at += size
        }
        result.append(ranges)
    }
    return result
}

/// Describes a chunking compactly for assertion messages.
func describe(_ ranges: [Range<Int>]) -> String {
    ranges.map { "\($0.count)" }.joined(separator: ",")
}

extension Array where Element == UInt8 {
    init(ascii s: String) { self = Array(s.utf8) }
}

func hexString(_ bytes: [UInt8]) -> String {
    bytes.map { b in
        let h = String(b, radix: 16, uppercase: true)
        return h.count == 1 ? "0" + h : h
    }.joined(separator: " ")
}
