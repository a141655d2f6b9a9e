/// The gRPC-Web trailer frame (PROTOCOLS.md §1.3) and parsing of HTTP/1-style header blocks.
public enum GRPCTrailers {
    /// Appends the 0x80 trailer frame: flag 0x80, 4-byte big-endian length, then "name:value\r\n" per field (no
    /// space after the colon, no terminating blank line).
    /// - Names are lower-cased (the JS client looks up `grpc-status` case-sensitively).
    /// - Duplicate names are joined with ", " into one line, in first-seen order, because grpc-web JS keeps only
    ///   the last of repeated lines.
    /// - Pseudo-header (":"-prefixed) and empty names are skipped; CR, LF and NUL inside values become spaces so
    ///   a hostile upstream value cannot forge extra trailer lines.
    public static func encodeFrame(_ fields: [(String, String)], into out: inout [UInt8]) {
        // Group duplicates. Typical trailer sets are tiny, so a linear search beats hashing; a dictionary takes
        // over for large sets so a hostile upstream cannot make this quadratic.
        var names: [String] = []
        var values: [[String]] = []
        var index: [String: Int]? = fields.count > 16 ? [:] : nil
        names.reserveCapacity(fields.count)
        values.reserveCapacity(fields.count)
        for (rawName, value) in fields {
            let name = asciiLowercased(rawName)
            if name.isEmpty || name.utf8.first == UInt8(ascii: ":") { continue }
            let existing = index != nil ? index![name] : names.firstIndex(of: name)
            if let i = existing {
                values[i].append(value)
            } else {
                index?[name] = names.count
                names.append(name)
                values.append([value])
            }
        }

        let headerAt = out.count
        GRPCFraming.writeHeader(flags: GRPCFraming.trailerFlag, length: 0, into: &out)
        let blockStart = out.count
        for (i, name) in names.enumerated() {
            out.append(contentsOf: name.utf8)
            out.append(UInt8(ascii: ":"))
            for (j, v) in values[i].enumerated() {
                if j > 0 { out.append(UInt8(ascii: ",")); out.append(UInt8(ascii: " ")) }
                for b in v.utf8 { out.append(b == 0x0D || b == 0x0A || b == 0 ? 0x20 : b) }
            }
            out.append(0x0D)
            out.append(0x0A)
        }
        let length = out.count - blockStart
        precondition(length <= GRPCFraming.maxLength, "trailer block too large")
        out[headerAt + 1] = UInt8(truncatingIfNeeded: length >> 24)
        out[headerAt + 2] = UInt8(truncatingIfNeeded: length >> 16)
        out[headerAt + 3] = UInt8(truncatingIfNeeded: length >> 8)
        out[headerAt + 4] = UInt8(truncatingIfNeeded: length)
    }

    /// The trailer frame as a new array.
    public static func frame(_ fields: [(String, String)]) -> [UInt8] {
        var out: [UInt8] = []
        encodeFrame(fields, into: &out)
        return out
    }

    /// Parses a header block ("name: value\r\n" or "name:value\r\n" lines; a bare "\n" also ends a line). Names
    /// are lower-cased; names and values are trimmed of spaces and tabs. Lines without ':' or with an empty name
    /// are skipped, like the grpc-web JS parser does. Order and duplicates are preserved.
    public static func parseBlock(_ bytes: [UInt8]) -> [(String, String)] {
        var result: [(String, String)] = []
        var lineStart = 0
        let n = bytes.count
        while lineStart < n {
            var lineEnd = lineStart
            while lineEnd < n && bytes[lineEnd] != 0x0A { lineEnd += 1 }
            var end = lineEnd
            if end > lineStart && bytes[end - 1] == 0x0D { end -= 1 }
            if let colon = bytes[lineStart..<end].firstIndex(of: UInt8(ascii: ":")) {
                let name = trimmed(bytes[lineStart..<colon])
                if !name.isEmpty {
                    let value = trimmed(bytes[(colon + 1)..<end])
                    result.append((String(decoding: name.lazy.map(asciiLower), as: UTF8.self),
                                   String(decoding: value, as: UTF8.self)))
                }
            }
            lineStart = lineEnd + 1
        }
        return result
    }

    private static func trimmed(_ s: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var s = s
        while let f = s.first, isOWS(f) { s = s.dropFirst() }
        while let l = s.last, isOWS(l) { s = s.dropLast() }
        return s
    }
}
