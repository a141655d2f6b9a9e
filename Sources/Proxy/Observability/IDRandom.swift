import Glibc

/// xoshiro256** for request and trace ids: one per worker, seeded once from the system, so an id costs a few
/// multiplies instead of a getrandom call. Ids must be unique and unguessable enough to join logs, not secret.
struct IDRandom {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    init() {
        var system = SystemRandomNumberGenerator()
        repeat {
            s0 = system.next(); s1 = system.next(); s2 = system.next(); s3 = system.next()
        } while s0 | s1 | s2 | s3 == 0
    }

    mutating func next() -> UInt64 {
        let result = rotateLeft(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = rotateLeft(s3, 45)
        return result
    }

    private func rotateLeft(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    /// `count` random 64-bit words as lowercase hex (16 characters each), never all zeros.
    mutating func hex(words count: Int) -> String {
        var words = (next(), next())
        if count == 2 && words.0 | words.1 == 0 { words.0 = 1 }
        if count == 1 && words.0 == 0 { words.0 = 1 }
        return String(unsafeUninitializedCapacity: 16 * count) { buffer in
            Hex.write(words.0, into: buffer, at: 0)
            if count == 2 { Hex.write(words.1, into: buffer, at: 16) }
            return 16 * count
        }
    }
}

enum Hex {
    private static let digits: StaticString = "0123456789abcdef"

    static func write(_ value: UInt64, into buffer: UnsafeMutableBufferPointer<UInt8>, at offset: Int) {
        let d = digits.utf8Start
        var v = value
        for i in stride(from: offset + 15, through: offset, by: -1) {
            buffer[i] = d[Int(v & 0xF)]
            v >>= 4
        }
    }

}
