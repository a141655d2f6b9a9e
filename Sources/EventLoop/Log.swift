import Glibc
import Synchronization

/// Leveled logger: one line per event on stderr, `<ISO time> <level> <component> <message>`.
/// Messages are autoclosures so disabled levels cost a comparison.
public enum Log {
    public enum Level: Int, Sendable, Comparable {
        case trace, debug, info, warn, error
        public static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }
        var label: String {
            switch self {
            case .trace: "trace"
            case .debug: "debug"
            case .info: "info"
            case .warn: "warn"
            case .error: "error"
            }
        }
    }

    private static let threshold = Atomic<Int>(Level.info.rawValue)

    public static var level: Level {
        get { Level(rawValue: threshold.load(ordering: .relaxed)) ?? .info }
        set { threshold.store(newValue.rawValue, ordering: .relaxed) }
    }

    @inline(__always)
    public static func enabled(_ l: Level) -> Bool { l.rawValue >= threshold.load(ordering: .relaxed) }

    public static func trace(_ component: String, _ message: @autoclosure () -> String) { emit(.trace, component, message) }
    public static func debug(_ component: String, _ message: @autoclosure () -> String) { emit(.debug, component, message) }
    public static func info(_ component: String, _ message: @autoclosure () -> String) { emit(.info, component, message) }
    public static func warn(_ component: String, _ message: @autoclosure () -> String) { emit(.warn, component, message) }
    public static func error(_ component: String, _ message: @autoclosure () -> String) { emit(.error, component, message) }

    private static func emit(_ l: Level, _ component: String, _ message: () -> String) {
        guard enabled(l) else { return }
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var t = time_t(ts.tv_sec)
        var tmv = tm()
        gmtime_r(&t, &tmv)
        let ms = Int(ts.tv_nsec / 1_000_000)
        func pad(_ v: Int32, _ w: Int) -> String { let s = String(v); return String(repeating: "0", count: max(0, w - s.count)) + s }
        let stamp = "\(pad(tmv.tm_year + 1900, 4))-\(pad(tmv.tm_mon + 1, 2))-\(pad(tmv.tm_mday, 2))T\(pad(tmv.tm_hour, 2)):\(pad(tmv.tm_min, 2)):\(pad(tmv.tm_sec, 2)).\(pad(Int32(ms), 3))Z"
        // Newlines inside a message would break one-line-per-event parsing.
        let text = message().replacingNewlines()
        let line = "\(stamp) \(l.label) [\(component)] \(text)\n"
        // One write(2) per line: atomic for lines under PIPE_BUF, so worker threads never interleave.
        var bytes = Array(line.utf8)
        _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
    }
}

extension String {
    fileprivate func replacingNewlines() -> String {
        guard contains(where: { $0 == "\n" || $0 == "\r" }) else { return self }
        return String(map { $0 == "\n" || $0 == "\r" ? " " : $0 })
    }
}
