import Config
import EventLoop
import Glibc
import Transport

/// One worker's view of the process-wide overload budgets (`overload:` in the config, see `OverloadConfig`).
///
/// Buffered bytes are one atomic load, so admission checks (a new connection, a new call) read them live. Resident
/// memory costs a read of /proc, so it is sampled by the periodic check only, which also resets the connections
/// holding the largest queues once the budget is exceeded. Loop-confined.
final class OverloadMonitor {
    enum Level: Int, Comparable {
        case normal, stopAccepting, shedCalls, resetLargest
        static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }
    }

    static let checkInterval: Duration = .milliseconds(100)
    let config: OverloadConfig
    private var rssPressure = 0.0
    private let bufferedBytes: () -> Int
    private let residentBytes: () -> Int

    /// The sources are injectable for unit tests; the defaults read the process-wide gauge and /proc.
    init(config: OverloadConfig, bufferedBytes: @escaping () -> Int = { BufferedBytesGauge.current },
         residentBytes: @escaping () -> Int = OverloadMonitor.processResidentBytes) {
        self.config = config
        self.bufferedBytes = bufferedBytes
        self.residentBytes = residentBytes
        sample()
    }

    var pressure: Double {
        let buffered = config.maxBufferedBytes > 0 ? Double(bufferedBytes()) / Double(config.maxBufferedBytes) : 0
        return max(buffered, rssPressure)
    }

    var level: Level {
        guard config.isEnabled else { return .normal }
        let p = pressure
        if p >= 1.0 { return .resetLargest }
        if p >= OverloadConfig.shedCallsAt { return .shedCalls }
        if p >= OverloadConfig.stopAcceptingAt { return .stopAccepting }
        return .normal
    }

    /// A short reason for logs and grpc-message.
    var description: String {
        "proxy overloaded (\(bufferedBytes()) bytes buffered of \(config.maxBufferedBytes)" +
            (config.maxRSS > 0 ? ", rss \(Int(rssPressure * 100))% of \(config.maxRSS)" : "") + ")"
    }

    /// Re-reads resident memory (when budgeted).
    func sample() {
        guard config.maxRSS > 0 else { return }
        rssPressure = Double(residentBytes()) / Double(config.maxRSS)
    }

    /// Second field of /proc/self/statm: resident pages.
    static func processResidentBytes() -> Int {
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        let fd = open("/proc/self/statm", O_RDONLY)
        guard fd >= 0 else { return 0 }
        defer { close(fd) }
        var buf = [UInt8](repeating: 0, count: 128)
        let n = read(fd, &buf, buf.count)
        guard n > 0 else { return 0 }
        let fields = buf[0..<n].split(separator: UInt8(ascii: " "))
        guard fields.count > 1, let pages = Int(String(decoding: fields[1], as: UTF8.self)) else { return 0 }
        return pages * pageSize
    }
}
