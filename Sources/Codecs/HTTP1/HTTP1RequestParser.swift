/// Incremental, zero-I/O HTTP/1.x request parser for the server side (RFC 9112).
///
/// Driving it: call `next(_:)` with the unconsumed bytes, advance by `consumed`, and call again
/// until `.needMoreData` (which always means every byte given was consumed). One request yields
/// `.head`, zero or more `.body` ranges, then `.end`; after `.end` the parser is ready for the
/// next pipelined request and the caller may hold the remaining bytes until its response is done.
/// `.end` may come from a call with an empty input (e.g. right after the last body bytes).
///
/// Buffering: only a request head or a trailer section split across calls is copied, into one
/// internal array bounded by `maxHeaderBytes`. Chunk-size lines are parsed byte by byte without
/// buffering, and body bytes are never copied: `.body` is a range into the caller's input.
///
/// Choices where RFC 9112 leaves room (all rejections are thrown `HTTP1ParseError`s):
/// - Lines must end in CRLF; a bare LF or a bare CR is a 400 (no lenient LF-only parsing).
/// - Up to `maxLeadingEmptyLines` empty lines before a request line are skipped (RFC 9112 §2.2);
///   more is a 400.
/// - Versions other than HTTP/1.0 and HTTP/1.1 are a 505, including HTTP/1.2 and the HTTP/2
///   preface "PRI * HTTP/2.0"; a version that does not match `HTTP/DIGIT.DIGIT` is a 400.
/// - The request-target may hold visible ASCII only; anything else is a 400.
/// - HTTP/1.1 requests must carry exactly one Host field, HTTP/1.0 at most one (RFC 9112 §3.2).
/// - Repeated or comma-listed Content-Length values are accepted only if all are equal.
/// - Transfer-Encoding: `chunked` anywhere but last -> 400, any other coding -> 501, together
///   with Content-Length or in HTTP/1.0 -> 400.
/// - Trailer fields are validated like header fields, bounded by the header limits, and dropped.
/// After a thrown error the parser keeps throwing the same error.
public struct HTTP1RequestParser: Sendable {
    /// Empty lines tolerated before a request line (some clients send CRLF after a POST body).
    public static let maxLeadingEmptyLines = 2

    private enum State: Sendable {
        /// Before a request line: skipping empty lines.
        case idle(emptyLines: Int, pendingCR: Bool)
        case head(BlockScanner)
        /// The message is complete; the next call reports `.end`.
        case endPending
        case contentLength(remaining: Int)
        case chunkSize(ChunkSizeLine)
        case chunkData(remaining: Int)
        case chunkDataCR
        case chunkDataLF
        case trailers(BlockScanner)
        case failed
    }

    public let limits: HTTP1Limits
    private var state = State.idle(emptyLines: 0, pendingCR: false)
    /// A head or trailer section split across calls. Bounded by `limits.maxHeaderBytes`.
    private var buffer: [UInt8] = []
    /// De-chunked body bytes announced so far, for `maxBodyBytes` (only counted when it is set).
    private var chunkedBodyBytes = 0
    private var failure: HTTP1ParseError?

    public init(limits: HTTP1Limits = .init()) {
        self.limits = limits
    }

    /// Parses from the start of `input`. Returns one event and how many bytes of `input` it consumed.
    public mutating func next(_ input: UnsafeRawBufferPointer) throws(HTTP1ParseError) -> (event: HTTP1ParseEvent, consumed: Int) {
        if let failure { throw failure }
        do throws(HTTP1ParseError) {
            return try step(input)
        } catch {
            failure = error
            state = .failed
            buffer = []
            throw error
        }
    }

    private mutating func step(_ input: UnsafeRawBufferPointer) throws(HTTP1ParseError) -> (event: HTTP1ParseEvent, consumed: Int) {
        let count = input.count
        let limits = self.limits   // captured by the block closures below, which run while self is mutated
        var position = 0
        while true {
            switch state {
            case .endPending:
                reset()
                return (.end, position)
            case .failed:
                // Unreachable: `next` throws the stored failure first.
                throw failure ?? .badRequest("parser failed")
            default:
                break
            }
            if position == count { return (.needMoreData, count) }

            switch state {
            case .idle(var emptyLines, var pendingCR):
                while position < count {
                    let b = input[position]
                    if pendingCR {
                        guard b == ASCII.lf else { throw .badRequest("bare CR") }
                        pendingCR = false
                        emptyLines += 1
                        guard emptyLines <= Self.maxLeadingEmptyLines else {
                            throw .badRequest("too many empty lines before request line")
                        }
                    } else if b == ASCII.cr {
                        pendingCR = true
                    } else if b == ASCII.lf {
                        throw .badRequest("bare LF line terminator")
                    } else {
                        break
                    }
                    position += 1
                }
                state = position < count && !pendingCR ? .head(BlockScanner()) : .idle(emptyLines: emptyLines, pendingCR: pendingCR)

            case .head(var scanner):
                guard let end = try scanBlock(input, from: position, &scanner, tooLarge: "request header section too large") else {
                    state = .head(scanner)
                    return (.needMoreData, count)
                }
                let head = try withBlock(input, position..<end) { (block) throws(HTTP1ParseError) in
                    try HeadParser.parseRequestHead(block, limits: limits)
                }
                switch head.bodyKind {
                case .none, .contentLength(0): state = .endPending
                case .contentLength(let length): state = .contentLength(remaining: length)
                case .chunked: state = .chunkSize(ChunkSizeLine())
                }
                return (.head(head), end)

            case .contentLength(let remaining):
                let n = min(remaining, count - position)
                state = n == remaining ? .endPending : .contentLength(remaining: remaining - n)
                return (.body(position..<position + n), position + n)

            case .chunkSize(var line):
                guard try line.consume(input, &position, maxLineBytes: limits.maxChunkLineBytes) else {
                    state = .chunkSize(line)
                    return (.needMoreData, count)
                }
                let size = line.size
                if size == 0 {
                    state = .trailers(BlockScanner())
                } else {
                    // Only tracked when limited, so the sum stays <= maxBodyBytes and cannot overflow.
                    if limits.maxBodyBytes > 0 {
                        guard size <= limits.maxBodyBytes - chunkedBodyBytes else { throw .tooLarge("request body too large") }
                        chunkedBodyBytes += size
                    }
                    state = .chunkData(remaining: size)
                }

            case .chunkData(let remaining):
                let n = min(remaining, count - position)
                state = n == remaining ? .chunkDataCR : .chunkData(remaining: remaining - n)
                return (.body(position..<position + n), position + n)

            case .chunkDataCR:
                guard input[position] == ASCII.cr else { throw .badRequest("chunk data not followed by CRLF") }
                position += 1
                state = .chunkDataLF

            case .chunkDataLF:
                guard input[position] == ASCII.lf else { throw .badRequest("chunk data not followed by CRLF") }
                position += 1
                state = .chunkSize(ChunkSizeLine())

            case .trailers(var scanner):
                guard let end = try scanBlock(input, from: position, &scanner, tooLarge: "trailer section too large") else {
                    state = .trailers(scanner)
                    return (.needMoreData, count)
                }
                try withBlock(input, position..<end) { (block) throws(HTTP1ParseError) in
                    try HeadParser.validateTrailers(block, limits: limits)
                }
                reset()
                return (.end, end)

            case .endPending, .failed:
                preconditionFailure("handled above")
            }
        }
    }

    /// Scans for the end of a head/trailer block from `start`, never looking past what
    /// `maxHeaderBytes` still allows. If the block does not end here, the scanned bytes are
    /// appended to the internal buffer and nil is returned.
    private mutating func scanBlock(_ input: UnsafeRawBufferPointer, from start: Int, _ scanner: inout BlockScanner,
                                    tooLarge: String) throws(HTTP1ParseError) -> Int? {
        let allowance = max(limits.maxHeaderBytes - buffer.count, 0)
        let stop = start + min(input.count - start, allowance)
        if let end = try scanner.scan(input, from: start, to: stop) { return end }
        // A complete block needs at least one more byte, and we are at the limit already.
        if buffer.count + (stop - start) >= limits.maxHeaderBytes { throw .headersTooLarge(tooLarge) }
        if buffer.isEmpty { buffer.reserveCapacity(min(limits.maxHeaderBytes, 4096)) }
        buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[start..<stop]))
        return nil
    }

    /// Runs `body` on the complete block: straight from `input` when nothing was buffered (the
    /// common case, no copy), otherwise on the buffer completed with `input[range]`.
    private mutating func withBlock<R>(_ input: UnsafeRawBufferPointer, _ range: Range<Int>,
                                       _ body: (UnsafeRawBufferPointer) throws(HTTP1ParseError) -> R) throws(HTTP1ParseError) -> R {
        if buffer.isEmpty { return try body(UnsafeRawBufferPointer(rebasing: input[range])) }
        buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[range]))
        let result: Result<R, HTTP1ParseError> = buffer.withUnsafeBytes { bytes in
            Result { () throws(HTTP1ParseError) -> R in try body(bytes) }
        }
        // Keep a modest buffer for the next split head; give back anything large.
        buffer.removeAll(keepingCapacity: buffer.capacity <= 4096)
        return try result.get()
    }

    private mutating func reset() {
        state = .idle(emptyLines: 0, pendingCR: false)
        chunkedBodyBytes = 0
    }
}
