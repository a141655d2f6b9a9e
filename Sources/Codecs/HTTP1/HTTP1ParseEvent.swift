/// One step of the request parser's output.
public enum HTTP1ParseEvent: Sendable, Equatable {
    /// Everything given was consumed (a partial head or line is buffered inside the parser, bounded).
    case needMoreData
    /// A complete request head. Body events, if any, follow, then `.end`.
    case head(HTTPRequestHead)
    /// Body bytes (de-chunked): a range into the input buffer of the call that returned it.
    case body(Range<Int>)
    /// The message is complete; the parser is reset for the next pipelined request.
    case end
}
