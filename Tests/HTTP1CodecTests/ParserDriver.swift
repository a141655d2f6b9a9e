import XCTest
import HTTP1Codec

/// One request as the driver saw it: its head, its de-chunked body bytes, and whether `.end` came.
struct ParsedMessage: Equatable {
    var head: HTTPRequestHead
    var body: [UInt8] = []
    var ended = false
}

/// Everything a run of the parser produced, including the error that stopped it, if any.
struct ParseOutcome: Equatable {
    var messages: [ParsedMessage] = []
    var error: HTTP1ParseError?
}

/// Drives the parser over `chunks` the way the connection code does: for each read, call `next`
/// on the unconsumed bytes, advance by `consumed`, and stop at `.needMoreData`. Body ranges are
/// resolved against the input of the call that returned them. Contract violations (consuming
/// more than given, body ranges outside the consumed prefix, no progress) fail the test.
func drive(_ chunks: [[UInt8]], limits: HTTP1Limits = .init(),
           file: StaticString = #filePath, line: UInt = #line) -> ParseOutcome {
    var parser = HTTP1RequestParser(limits: limits)
    var outcome = ParseOutcome()
    for chunk in chunks {
        var offset = 0
        var calls = 0
        while true {
            calls += 1
            if calls > chunk.count * 4 + 16 {
                XCTFail("parser made no progress", file: file, line: line)
                return outcome
            }
            let step: (event: HTTP1ParseEvent, consumed: Int)
            do {
                step = try chunk.withUnsafeBytes { all in
                    try parser.next(UnsafeRawBufferPointer(rebasing: all[offset...]))
                }
            } catch let error as HTTP1ParseError {
                outcome.error = error
                return outcome
            } catch {
                // Array.withUnsafeBytes rethrows untyped, so the typed error comes back as `any Error`.
                XCTFail("unexpected error type \(error)", file: file, line: line)
                return outcome
            }
            let available = chunk.count - offset
            guard step.consumed >= 0 && step.consumed <= available else {
                XCTFail("consumed \(step.consumed) of \(available)", file: file, line: line)
                return outcome
            }
            switch step.event {
            case .needMoreData:
                XCTAssertEqual(step.consumed, available, ".needMoreData must consume everything", file: file, line: line)
            case .head(let head):
                XCTAssertGreaterThan(step.consumed, 0, file: file, line: line)
                if let last = outcome.messages.last, !last.ended {
                    XCTFail("head before the previous message ended", file: file, line: line)
                }
                outcome.messages.append(ParsedMessage(head: head))
            case .body(let range):
                XCTAssertFalse(range.isEmpty, "empty body event", file: file, line: line)
                XCTAssertTrue(range.lowerBound >= 0 && range.upperBound <= step.consumed,
                              "body range \(range) outside consumed \(step.consumed)", file: file, line: line)
                guard !outcome.messages.isEmpty, !outcome.messages[outcome.messages.count - 1].ended else {
                    XCTFail("body outside a message", file: file, line: line)
                    return outcome
                }
                outcome.messages[outcome.messages.count - 1].body += chunk[(offset + range.lowerBound)..<(offset + range.upperBound)]
            case .end:
                guard !outcome.messages.isEmpty, !outcome.messages[outcome.messages.count - 1].ended else {
                    XCTFail("end outside a message", file: file, line: line)
                    return outcome
                }
                outcome.messages[outcome.messages.count - 1].ended = true
            }
            offset += step.consumed
            if case .needMoreData = step.event { break }
        }
    }
    return outcome
}

/// Deterministic RNG (SplitMix64) so random splits are reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Every way we split `bytes` for the split-invariance checks: two pieces at every boundary,
/// one byte at a time, and seeded random chunk sizes (including empty reads).
func splits(of bytes: [UInt8], seed: UInt64 = 0x5EED) -> [[[UInt8]]] {
    var result: [[[UInt8]]] = []
    for cut in 0...bytes.count {
        result.append([Array(bytes[..<cut]), Array(bytes[cut...])])
    }
    result.append(bytes.map { [$0] })
    var rng = SplitMix64(seed: seed)
    for _ in 0..<50 {
        var chunks: [[UInt8]] = []
        var position = 0
        let maxChunk = max(1, bytes.count / 3)
        while position < bytes.count {
            let size = Int.random(in: 0...maxChunk, using: &rng)
            let end = min(bytes.count, position + size)
            chunks.append(Array(bytes[position..<end]))
            position = end
        }
        result.append(chunks)
    }
    return result
}

/// Parses `bytes` in one piece, then checks every split gives an identical outcome.
@discardableResult
func parseAllSplits(_ bytes: [UInt8], limits: HTTP1Limits = .init(),
                    file: StaticString = #filePath, line: UInt = #line) -> ParseOutcome {
    let whole = drive([bytes], limits: limits, file: file, line: line)
    for chunks in splits(of: bytes) {
        let split = drive(chunks, limits: limits, file: file, line: line)
        if split != whole {
            XCTFail("split \(chunks.map(\.count)) gave \(split), whole gave \(whole)", file: file, line: line)
            break
        }
    }
    return whole
}

/// Parses a valid input (all splits) and returns its messages, failing on any error or unfinished message.
func parseValid(_ text: String, limits: HTTP1Limits = .init(),
                file: StaticString = #filePath, line: UInt = #line) -> [ParsedMessage] {
    parseValid(Array(text.utf8), limits: limits, file: file, line: line)
}

func parseValid(_ bytes: [UInt8], limits: HTTP1Limits = .init(),
                file: StaticString = #filePath, line: UInt = #line) -> [ParsedMessage] {
    let outcome = parseAllSplits(bytes, limits: limits, file: file, line: line)
    XCTAssertNil(outcome.error, "unexpected error", file: file, line: line)
    XCTAssertTrue(outcome.messages.allSatisfy(\.ended), "unfinished message", file: file, line: line)
    return outcome.messages
}

/// Asserts the input is rejected with `status`, identically under every split.
func assertRejects(_ text: String, status: Int, limits: HTTP1Limits = .init(),
                   file: StaticString = #filePath, line: UInt = #line) {
    assertRejects(Array(text.utf8), status: status, limits: limits, file: file, line: line)
}

func assertRejects(_ bytes: [UInt8], status: Int, limits: HTTP1Limits = .init(),
                   file: StaticString = #filePath, line: UInt = #line) {
    let outcome = parseAllSplits(bytes, limits: limits, file: file, line: line)
    XCTAssertEqual(outcome.error?.status, status, "error: \(String(describing: outcome.error))", file: file, line: line)
}

extension String {
    var bytes: [UInt8] { Array(utf8) }
}
