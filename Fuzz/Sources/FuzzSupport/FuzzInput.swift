/// One fuzz input cut into the pieces a target needs: a few control bytes that pick limits and split points,
/// then the payload the codec sees. Reading past the end yields zeros, so every input is usable.
public struct FuzzInput {
    public let bytes: [UInt8]
    private var cursor = 0

    public init(_ data: UnsafePointer<UInt8>?, _ size: Int) {
        bytes = size > 0 ? Array(UnsafeBufferPointer(start: data, count: size)) : []
    }

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// The next control byte (0 once the input is used up).
    public mutating func byte() -> UInt8 {
        guard cursor < bytes.count else { return 0 }
        defer { cursor += 1 }
        return bytes[cursor]
    }

    /// The next two control bytes as a little-endian number.
    public mutating func uint16() -> Int {
        Int(byte()) | Int(byte()) << 8
    }

    /// Everything not consumed as control bytes.
    public var rest: [UInt8] { cursor < bytes.count ? Array(bytes[cursor...]) : [] }
}

/// Split points for feeding `count` bytes to an incremental decoder, chosen by `selector` so the fuzzer can
/// steer them: 0 = one piece, 1 = one byte at a time, 2 = two pieces cut at `selector`'s neighbour bits,
/// otherwise pseudo-random piece sizes (empty pieces included) seeded by the selector.
public func splitRanges(count: Int, selector: UInt8) -> [Range<Int>] {
    switch selector & 3 {
    case 0:
        return [0..<count]
    case 1:
        return (0..<count).map { $0..<($0 + 1) }
    case 2:
        let cut = count == 0 ? 0 : Int(selector >> 2) % (count + 1)
        return [0..<cut, cut..<count]
    default:
        var rng = SplitMix64(seed: UInt64(selector))
        var ranges: [Range<Int>] = []
        var start = 0
        let maxPiece = max(1, count / 3)
        while start < count {
            let end = min(count, start + Int(rng.next() % UInt64(maxPiece + 1)))
            ranges.append(start..<end)
            start = end
        }
        return ranges
    }
}

/// Deterministic generator for split sizes, so a crash reproduces from its input alone.
public struct SplitMix64 {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A failed property: traps with the message, which libFuzzer reports as a crash and saves the input.
public func fuzzCheck(_ condition: Bool, _ message: @autoclosure () -> String,
                      file: StaticString = #fileID, line: UInt = #line) {
    if !condition { fatalError("fuzz property violated: \(message())", file: file, line: line) }
}

/// Runs `body` on the bytes of `array[range]` keeping the typed error (Array.withUnsafeBytes rethrows untyped).
public func withBytes<R, E: Error>(_ array: [UInt8], _ range: Range<Int>,
                                   _ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
    let result: Result<R, E> = array.withUnsafeBytes { all in
        Result { () throws(E) -> R in try body(UnsafeRawBufferPointer(rebasing: all[range])) }
    }
    return try result.get()
}
