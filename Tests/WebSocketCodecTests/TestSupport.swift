import XCTest
import WebSocketCodec

/// Deterministic RNG (SplitMix64) so random chunkings are reproducible from the seed in a failure message.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE5_E4B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Builds client (masked) frames the way a browser would, independently of the code under test: the mask is
/// applied with a plain byte loop, not `WebSocketMasking`.
enum ClientFrame {
    static let defaultKey: [UInt8] = [0x37, 0xFA, 0x21, 0x3D]

    static func make(_ opcode: UInt8, _ payload: [UInt8], fin: Bool = true, masked: Bool = true,
                     key: [UInt8] = defaultKey, rsv: UInt8 = 0, lengthForm: LengthForm = .minimal) -> [UInt8] {
        var out: [UInt8] = [(fin ? 0x80 : 0) | rsv | opcode]
        let maskBit: UInt8 = masked ? 0x80 : 0
        let n = payload.count
        switch lengthForm == .minimal ? (n < 126 ? .short : n <= 0xFFFF ? .medium : .long) : lengthForm {
        case .short, .minimal:
            out.append(maskBit | UInt8(n))
        case .medium:
            out.append(maskBit | 126)
            out += [UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)]
        case .long:
            out.append(maskBit | 127)
            for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: UInt64(n) >> UInt64(shift))) }
        }
        if masked {
            out += key
            for (i, byte) in payload.enumerated() { out.append(byte ^ key[i % 4]) }
        } else {
            out += payload
        }
        return out
    }

    enum LengthForm { case minimal, short, medium, long }

    static func text(_ s: String, fin: Bool = true) -> [UInt8] { make(0x1, Array(s.utf8), fin: fin) }
    static func binary(_ p: [UInt8], fin: Bool = true) -> [UInt8] { make(0x2, p, fin: fin) }
    static func continuation(_ p: [UInt8], fin: Bool = true) -> [UInt8] { make(0x0, p, fin: fin) }
    static func ping(_ p: [UInt8]) -> [UInt8] { make(0x9, p) }
    static func pong(_ p: [UInt8]) -> [UInt8] { make(0xA, p) }
    static func close(_ code: UInt16, _ reason: [UInt8] = []) -> [UInt8] {
        make(0x8, [UInt8(code >> 8), UInt8(code & 0xFF)] + reason)
    }
}

/// Outcome of one decoding run: the events produced and, if it failed, the error.
struct DecodeOutcome: Equatable {
    var events: [WebSocketEvent]
    var error: WebSocketError?
}

enum Feeder {
    /// Decodes `input` cut at the given chunk lengths (the remainder goes last).
    static func run(_ input: [UInt8], chunks: [Int], limits: WebSocketLimits) -> DecodeOutcome {
        var decoder = WebSocketFrameDecoder(limits: limits)
        var events: [WebSocketEvent] = []
        var position = 0
        var sizes = chunks
        sizes.append(input.count - chunks.reduce(0, +))
        for size in sizes {
            let slice = input[position ..< position + size]
            position += size
            do {
                try slice.withUnsafeBytes { buffer in try decoder.decode(buffer, into: &events) }
            } catch let error as WebSocketError {
                return DecodeOutcome(events: events, error: error)
            } catch {
                XCTFail("untyped error \(error)")
            }
        }
        return DecodeOutcome(events: events, error: nil)
    }

    /// Every chunking the brief asks for: whole, split in two at every byte boundary (for large inputs, one byte
    /// at a time covers every boundary, plus two-way splits around the headers at each end), one byte at a time,
    /// and seeded random chunk sizes. Returns (description, outcome) pairs.
    static func allChunkings(_ input: [UInt8], limits: WebSocketLimits, seed: UInt64 = 0x5EED) -> [(String, DecodeOutcome)] {
        var results: [(String, DecodeOutcome)] = [("whole", run(input, chunks: [], limits: limits))]
        let n = input.count
        let splitPoints: [Int]
        if n <= 4096 {
            splitPoints = Array(0...n)
        } else {
            splitPoints = Array(0...min(n, 300)) + Array(max(301, n - 300)...n) + Array(stride(from: 301, to: n - 300, by: 997))
        }
        for cut in splitPoints { results.append(("split at \(cut)", run(input, chunks: [cut], limits: limits))) }
        results.append(("byte by byte", run(input, chunks: Array(repeating: 1, count: max(0, n - 1)), limits: limits)))
        var rng = SplitMix64(seed: seed)
        for round in 0..<24 {
            let maxChunk = round % 2 == 0 ? 7 : max(1, n / 3)
            var chunks: [Int] = []
            var left = n
            while left > 0 {
                let size = min(left, Int.random(in: 1...maxChunk, using: &rng))
                chunks.append(size)
                left -= size
            }
            results.append(("random round \(round) seed \(seed)", run(input, chunks: chunks, limits: limits)))
        }
        return results
    }
}

extension XCTestCase {
    /// Asserts `input` decodes to exactly `expected` however it is chunked.
    func assertDecodes(_ input: [UInt8], _ expected: [WebSocketEvent], limits: WebSocketLimits = .init(),
                       file: StaticString = #filePath, line: UInt = #line) {
        for (how, outcome) in Feeder.allChunkings(input, limits: limits) {
            XCTAssertNil(outcome.error, "unexpected error (\(how))", file: file, line: line)
            guard outcome.events == expected else {
                XCTFail("events differ (\(how)): \(outcome.events) != \(expected)", file: file, line: line)
                return
            }
        }
    }

    /// Asserts `input` fails with `code` however it is chunked, after emitting exactly `before`.
    func assertFails(_ input: [UInt8], code: UInt16, before: [WebSocketEvent] = [], limits: WebSocketLimits = .init(),
                     file: StaticString = #filePath, line: UInt = #line) {
        for (how, outcome) in Feeder.allChunkings(input, limits: limits) {
            guard let error = outcome.error else {
                XCTFail("expected close code \(code), got no error (\(how))", file: file, line: line)
                return
            }
            XCTAssertEqual(error.closeCode, code, "\(error.reason) (\(how))", file: file, line: line)
            XCTAssertFalse(error.reason.isEmpty, file: file, line: line)
            guard outcome.events == before else {
                XCTFail("events before the error differ (\(how)): \(outcome.events)", file: file, line: line)
                return
            }
        }
    }

    /// Decodes `input` in one call, returning the outcome (for tests about *when* something happens).
    func decodeOnce(_ decoder: inout WebSocketFrameDecoder, _ input: [UInt8]) -> DecodeOutcome {
        var events: [WebSocketEvent] = []
        do {
            try input.withUnsafeBytes { try decoder.decode($0, into: &events) }
            return DecodeOutcome(events: events, error: nil)
        } catch {
            return DecodeOutcome(events: events, error: error as? WebSocketError)
        }
    }
}

func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }
