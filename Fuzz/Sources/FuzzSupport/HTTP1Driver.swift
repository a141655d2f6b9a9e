import HTTP1Codec

/// What the request parser made of a byte stream: the messages (head, de-chunked body, whether `.end` came) and
/// the error that stopped it.
public struct HTTP1Outcome: Equatable {
    public struct Message: Equatable {
        public var head: HTTPRequestHead
        public var body: [UInt8] = []
        public var ended = false
    }

    public var messages: [Message] = []
    public var error: HTTP1ParseError?
}

/// Drives the parser over `bytes` cut at `ranges` the way the connection does (call `next` on the unconsumed
/// bytes, advance by `consumed`, read again at `.needMoreData`) and traps on any breach of its contract.
public func driveHTTP1(_ bytes: [UInt8], _ ranges: [Range<Int>], limits: HTTP1Limits) -> HTTP1Outcome {
    var parser = HTTP1RequestParser(limits: limits)
    var outcome = HTTP1Outcome()
    for range in ranges {
        var offset = range.lowerBound
        var calls = 0
        while true {
            calls += 1
            fuzzCheck(calls <= range.count * 4 + 16, "parser made no progress")
            let step: (event: HTTP1ParseEvent, consumed: Int)
            do {
                step = try withBytes(bytes, offset..<range.upperBound) { (piece) throws(HTTP1ParseError) in
                    try parser.next(piece)
                }
            } catch {
                outcome.error = error
                return outcome
            }
            let available = range.upperBound - offset
            fuzzCheck(step.consumed >= 0 && step.consumed <= available, "consumed \(step.consumed) of \(available)")
            switch step.event {
            case .needMoreData:
                fuzzCheck(step.consumed == available, ".needMoreData must consume everything")
            case .head(let head):
                fuzzCheck(step.consumed > 0, "a head consumed nothing")
                fuzzCheck(outcome.messages.last?.ended ?? true, "head before the previous message ended")
                outcome.messages.append(.init(head: head))
            case .body(let body):
                fuzzCheck(!body.isEmpty && body.upperBound <= step.consumed, "body range \(body) outside \(step.consumed)")
                fuzzCheck(outcome.messages.last.map { !$0.ended } ?? false, "body outside a message")
                outcome.messages[outcome.messages.count - 1].body += bytes[(offset + body.lowerBound)..<(offset + body.upperBound)]
            case .end:
                fuzzCheck(outcome.messages.last.map { !$0.ended } ?? false, "end outside a message")
                outcome.messages[outcome.messages.count - 1].ended = true
            }
            offset += step.consumed
            if case .needMoreData = step.event { break }
        }
    }
    return outcome
}

/// Parses `bytes` whole and cut as `selector` says; the two outcomes must be identical.
@discardableResult
public func checkHTTP1SplitInvariance(_ bytes: [UInt8], limits: HTTP1Limits, selector: UInt8) -> HTTP1Outcome {
    let whole = driveHTTP1(bytes, [0..<bytes.count], limits: limits)
    let split = driveHTTP1(bytes, splitRanges(count: bytes.count, selector: selector), limits: limits)
    fuzzCheck(whole == split, "split \(selector) gave \(split), whole gave \(whole)")
    if let last = whole.messages.last, case .contentLength(let n) = last.head.bodyKind, last.ended {
        fuzzCheck(last.body.count == n, "Content-Length \(n) but \(last.body.count) body bytes")
    }
    return whole
}

/// Small limits from one control byte so the limit paths are reached with short inputs; 0 keeps the defaults.
public func fuzzHTTP1Limits(_ b: UInt8) -> HTTP1Limits {
    guard b != 0 else { return HTTP1Limits() }
    return HTTP1Limits(maxHeaderBytes: 16 + Int(b & 0x3F) * 4, maxHeaderCount: Int(b >> 6) + 1,
                       maxBodyBytes: Int(b & 0x0F) * 7, maxChunkLineBytes: 3 + Int(b >> 4))
}
