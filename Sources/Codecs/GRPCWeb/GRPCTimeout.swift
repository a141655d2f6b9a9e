/// The `grpc-timeout` header (PROTOCOLS.md §4): `<1-8 ASCII digits><unit>`, units H M S m u n.
public enum GRPCTimeout {
    /// Nanoseconds per unit, indexed in `units` order (coarsest first).
    private static let units: [(UInt8, Int64)] = [
        (UInt8(ascii: "H"), 3_600_000_000_000),
        (UInt8(ascii: "M"), 60_000_000_000),
        (UInt8(ascii: "S"), 1_000_000_000),
        (UInt8(ascii: "m"), 1_000_000),
        (UInt8(ascii: "u"), 1_000),
        (UInt8(ascii: "n"), 1),
    ]

    /// "<1-8 digits><H|M|S|m|u|n>" -> nanoseconds, saturating at Int64.max (99999999H does not fit). nil if
    /// malformed: empty, no digits, more than 8 digits, sign, whitespace, or an unknown/missing unit.
    public static func parse(_ s: String) -> Int64? {
        let u = s.utf8
        let count = u.count
        guard count >= 2 && count <= 9, let unit = u.last else { return nil }
        var value: Int64 = 0
        for b in u.dropLast() {
            guard b >= 0x30 && b <= 0x39 else { return nil }
            value = value * 10 + Int64(b - 0x30)
        }
        guard let scale = units.first(where: { $0.0 == unit })?.1 else { return nil }
        let (ns, overflow) = value.multipliedReportingOverflow(by: scale)
        return overflow ? Int64.max : ns
    }

    /// Encodes a duration with the finest unit whose value fits in 8 digits.
    ///
    /// Rounding: toward zero. The value is exact up to 99,999,999 ns; beyond that the unit is at least a
    /// microsecond and the value at least 100,000 of it, so truncation loses under 0.001% and guarantees the
    /// upstream deadline is never later than ours (rounding up could also carry into a 9th digit).
    /// `ns <= 0` (already expired) -> "1n", the smallest legal timeout, so the upstream fails fast.
    public static func encode(nanoseconds: Int64) -> String {
        if nanoseconds <= 0 { return "1n" }
        for (unit, scale) in units.reversed() {
            let v = nanoseconds / scale
            if v < 100_000_000 {
                return String(v) + String(UnicodeScalar(unit))
            }
        }
        // Int64.max ns is about 2.56 million hours: the hour unit always fits.
        preconditionFailure("unreachable: hours always fit in 8 digits")
    }
}
