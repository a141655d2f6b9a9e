/// Finds the end of a CRLF-delimited line block (a request head or a trailer section): the
/// empty line that terminates it. It runs byte by byte across calls, so a block split over many
/// reads is scanned once in total, never re-scanned from its start.
///
/// Line endings are strict: every CR must be followed by LF and a bare LF is rejected. RFC 9112
/// §2.2 allows a recipient to accept a bare LF, but every real client sends CRLF and accepting
/// two different terminators is a classic request-smuggling lever, so we don't.
struct BlockScanner: Sendable {
    private enum Phase: UInt8, Sendable {
        case lineStart      // at the first byte of a line
        case inLine         // inside a non-empty line
        case crAfterEmpty   // CR that began a line: LF next ends the block
        case crAfterText    // CR that ends a non-empty line
    }

    private var phase = Phase.lineStart

    /// Scans `bytes[start..<stop]`. Returns the index just past the block's final LF, or nil if
    /// the block did not end inside the range (the scanner then resumes on the next range).
    mutating func scan(_ bytes: UnsafeRawBufferPointer, from start: Int, to stop: Int) throws(HTTP1ParseError) -> Int? {
        var i = start
        var phase = self.phase
        while i < stop {
            let b = bytes[i]
            i += 1
            switch phase {
            case .lineStart, .inLine:
                if b > ASCII.cr {
                    // Fast path: almost every byte of a head is printable.
                    phase = .inLine
                    while i < stop && bytes[i] > ASCII.cr { i += 1 }
                } else if b == ASCII.cr {
                    phase = phase == .lineStart ? .crAfterEmpty : .crAfterText
                } else if b == ASCII.lf {
                    throw .badRequest("bare LF line terminator")
                } else {
                    // Other control bytes are line content; the line parser rejects them with a precise reason.
                    phase = .inLine
                }
            case .crAfterText:
                guard b == ASCII.lf else { throw .badRequest("bare CR") }
                phase = .lineStart
            case .crAfterEmpty:
                guard b == ASCII.lf else { throw .badRequest("bare CR") }
                self.phase = .lineStart
                return i
            }
        }
        self.phase = phase
        return nil
    }
}
