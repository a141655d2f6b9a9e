/// Text-mode response encoder (PROTOCOLS.md §1.4): base64 of whole bytes per flushed piece, each piece padded to
/// a multiple of 4 characters, so the grpc-web JS client (which decodes the longest 4-aligned prefix it has seen)
/// can decode every piece as it arrives. Stateless: pieces are independent, so no bytes are held back waiting
/// for a 3-byte boundary, which keeps server-streaming latency at zero.
public enum GRPCWebTextEncoder {
    public static func encodePiece(_ bytes: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        Base64.encode(bytes, into: &out)
    }

    /// Exact number of characters `encodePiece` appends for `n` bytes (for chunk-size prefixes).
    public static func encodedLength(_ n: Int) -> Int { Base64.encodedLength(n) }
}
