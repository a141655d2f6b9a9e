/// Picks the known name a misspelt one was probably meant to be, for "did you mean" hints.
enum KeySuggestion {
    /// Compares names with case, `_` and `-` ignored (so `maxAge` finds `max_age`), by edit
    /// distance; also accepts a known name that is a prefix of the unknown one or the reverse.
    static func nearest(to unknown: String, in known: [String]) -> String? {
        let target = normalized(unknown)
        guard !target.isEmpty else { return nil }
        var best: (name: String, distance: Int)?
        for candidate in known {
            let normalizedCandidate = normalized(candidate)
            let distance = editDistance(target, normalizedCandidate)
            let limit = normalizedCandidate.count >= 6 ? 2 : 1
            let close = distance <= limit && distance < target.count
            // `keepalive` for `keepalive_interval`, `warning` for `warn`.
            let prefix = (target.count >= 4 && normalizedCandidate.starts(with: target))
                || (normalizedCandidate.count >= 4 && target.starts(with: normalizedCandidate))
            guard close || prefix else { continue }
            // Prefix matches rank after any edit-distance match.
            let score = close ? distance : 100 + normalizedCandidate.count
            if best == nil || score < best!.distance {
                best = (candidate, score)
            }
        }
        return best?.name
    }

    static func normalized(_ name: String) -> [UInt8] {
        name.utf8.compactMap { byte in
            if byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-") { return nil }
            return byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
        }
    }

    /// Levenshtein distance with two rows.
    static func editDistance(_ a: [UInt8], _ b: [UInt8]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var row = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            row[0] = i
            for j in 1...b.count {
                let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
                row[j] = min(substitution, previous[j] + 1, row[j - 1] + 1)
            }
            swap(&previous, &row)
        }
        return previous[b.count]
    }
}
