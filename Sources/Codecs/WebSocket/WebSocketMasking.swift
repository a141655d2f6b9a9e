/// RFC 6455 §5.3 payload masking: byte `i` of a frame's payload is XORed with byte `i % 4` of the 32-bit masking
/// key. XOR is its own inverse, so the same routine masks and unmasks.
///
/// This is the hottest loop of the WebSocket path (every client byte goes through it), so it works on aligned
/// 8-byte words: the key is rotated to the payload phase, widened to 64 bits, and only the unaligned head and the
/// short tail are done a byte at a time.
public enum WebSocketMasking {
    /// XORs `buffer` in place with the masking key.
    /// - Parameters:
    ///   - key: the four masking-key bytes in wire order read as a big-endian integer (the first byte on the wire is
    ///     the most significant), e.g. mask `37 fa 21 3d` is `0x37fa_213d`.
    ///   - offset: the position of `buffer[0]` within the frame payload, so a payload that arrives in pieces can be
    ///     unmasked piece by piece. Only `offset % 4` matters.
    public static func unmask(_ buffer: UnsafeMutableRawBufferPointer, key: UInt32, offset: Int) {
        guard let base = buffer.baseAddress else { return }
        let count = buffer.count
        // `k` always holds the key rotated so that its top byte masks the next byte to process.
        var k = rotateLeft(key, bytes: offset & 3)
        var i = 0

        // Head: single bytes until the pointer is 8-byte aligned (aligned loads are the fast, portable form).
        let misalignment = Int(bitPattern: base) & 7
        let head = misalignment == 0 ? 0 : min(8 &- misalignment, count)
        while i < head {
            xorByte(base, at: i, with: UInt8(truncatingIfNeeded: k >> 24))
            k = rotateLeft(k, bytes: 1)
            i &+= 1
        }

        // Body: 32 bytes per iteration. `k.bigEndian` lays the key out in memory order (first mask byte first) on
        // either endianness, and since 8 is a multiple of 4 the same word fits every aligned position.
        let memoryOrder = k.bigEndian
        let word = UInt64(memoryOrder) | (UInt64(memoryOrder) << 32)
        while i &+ 32 <= count {
            let p = base + i
            p.storeBytes(of: p.load(as: UInt64.self) ^ word, as: UInt64.self)
            p.storeBytes(of: p.load(fromByteOffset: 8, as: UInt64.self) ^ word, toByteOffset: 8, as: UInt64.self)
            p.storeBytes(of: p.load(fromByteOffset: 16, as: UInt64.self) ^ word, toByteOffset: 16, as: UInt64.self)
            p.storeBytes(of: p.load(fromByteOffset: 24, as: UInt64.self) ^ word, toByteOffset: 24, as: UInt64.self)
            i &+= 32
        }
        while i &+ 8 <= count {
            let p = base + i
            p.storeBytes(of: p.load(as: UInt64.self) ^ word, as: UInt64.self)
            i &+= 8
        }

        // Tail: whole words consumed a multiple of 4 bytes, so `k` is still in phase.
        while i < count {
            xorByte(base, at: i, with: UInt8(truncatingIfNeeded: k >> 24))
            k = rotateLeft(k, bytes: 1)
            i &+= 1
        }
    }

    /// Same as `unmask(_:key:offset:)` with the key given as its four wire bytes.
    public static func unmask(_ buffer: UnsafeMutableRawBufferPointer, key: [UInt8], offset: Int) {
        precondition(key.count == 4, "a WebSocket masking key is 4 bytes")
        unmask(buffer, key: keyValue(key[0], key[1], key[2], key[3]), offset: offset)
    }

    /// Packs four wire-order key bytes into the `UInt32` form `unmask` takes.
    @inlinable
    public static func keyValue(_ b0: UInt8, _ b1: UInt8, _ b2: UInt8, _ b3: UInt8) -> UInt32 {
        UInt32(b0) << 24 | UInt32(b1) << 16 | UInt32(b2) << 8 | UInt32(b3)
    }

    @inline(__always)
    private static func rotateLeft(_ value: UInt32, bytes: Int) -> UInt32 {
        let shift = UInt32(truncatingIfNeeded: bytes & 3) &* 8
        return shift == 0 ? value : (value << shift) | (value >> (32 &- shift))
    }

    @inline(__always)
    private static func xorByte(_ base: UnsafeMutableRawPointer, at index: Int, with mask: UInt8) {
        base.storeBytes(of: base.load(fromByteOffset: index, as: UInt8.self) ^ mask, toByteOffset: index, as: UInt8.self)
    }
}
