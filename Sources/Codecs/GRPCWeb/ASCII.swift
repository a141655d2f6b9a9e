// Small byte-level helpers shared by the header-ish parsers in this module. They work on UTF-8 bytes so that
// no Foundation (and no Unicode-aware String machinery) is needed on the request path.

@inline(__always)
func asciiLower(_ b: UInt8) -> UInt8 {
    // A-Z only: header names and media types are ASCII, and non-ASCII bytes must pass through unchanged.
    (b &- 0x41) < 26 ? b | 0x20 : b
}

@inline(__always)
func isOWS(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 }

/// Lower-cases ASCII letters of `s`, leaving every other byte as it is.
func asciiLowercased(_ s: String) -> String {
    var needs = false
    for b in s.utf8 where (b &- 0x41) < 26 { needs = true; break }
    if !needs { return s }
    return String(decoding: s.utf8.map(asciiLower), as: UTF8.self)
}

/// Compares a byte slice against an already lower-case ASCII literal, ignoring ASCII case in the slice.
func equalsLowercased<C: Collection<UInt8>>(_ bytes: C, _ lower: StaticString) -> Bool {
    guard bytes.count == lower.utf8CodeUnitCount else { return false }
    return lower.withUTF8Buffer { lit in
        var i = 0
        for b in bytes {
            if asciiLower(b) != lit[i] { return false }
            i += 1
        }
        return true
    }
}

/// True if `bytes` starts with the lower-case ASCII literal `prefix`, ignoring ASCII case in `bytes`.
func hasLowercasedPrefix<C: Collection<UInt8>>(_ bytes: C, _ prefix: StaticString) -> Bool {
    guard bytes.count >= prefix.utf8CodeUnitCount else { return false }
    return equalsLowercased(bytes.prefix(prefix.utf8CodeUnitCount), prefix)
}

/// The media type of one content-type / accept element: the part before ';', with optional whitespace trimmed.
func mediaType(_ element: Substring.UTF8View) -> Substring.UTF8View {
    var e = element
    if let semi = e.firstIndex(of: UInt8(ascii: ";")) { e = e[e.startIndex..<semi] }
    while let f = e.first, isOWS(f) { e = e.dropFirst() }
    while let l = e.last, isOWS(l) { e = e.dropLast() }
    return e
}
