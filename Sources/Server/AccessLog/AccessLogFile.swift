import Config
import EventLoop
import Glibc

/// Where lines go: stdout, stderr or a file opened for appending (reopened by path on SIGUSR1).
struct AccessLogFile: ~Copyable {
    struct OpenError: Error, CustomStringConvertible {
        var description: String
    }

    private let destination: AccessLogConfig.Destination
    private var fd: Int32
    /// The writer's buffer, swapped with each worker's (see `AccessLogBuffer.take`).
    var scratch: [UInt8] = []
    private var warnedAboutFailure = false

    init(_ destination: AccessLogConfig.Destination) throws(OpenError) {
        self.destination = destination
        fd = try Self.open(destination)
    }

    deinit {
        if case .file = destination, fd >= 0 { Glibc.close(fd) }
    }

    private static func open(_ destination: AccessLogConfig.Destination) throws(OpenError) -> Int32 {
        switch destination {
        case .stdout: return 1
        case .stderr: return 2
        case .file(let path):
            let fd = Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
            guard fd >= 0 else {
                throw OpenError(description: "cannot open access log \(path): \(String(cString: strerror(errno)))")
            }
            return fd
        }
    }

    mutating func reopen() {
        guard case .file = destination else { return }
        do {
            let newFD = try Self.open(destination)
            Glibc.close(fd)
            fd = newFD
            Log.info("access-log", "access log reopened")
        } catch {
            Log.error("access-log", "\(error); still writing to the file opened before")
        }
    }

    /// Writes all of `bytes` (blocking: this runs on the writer thread, never on a worker).
    mutating func write(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n > 0 { offset += n; continue }
                if n < 0 && errno == EINTR { continue }
                if !warnedAboutFailure {
                    warnedAboutFailure = true
                    Log.error("access-log", "write failed: \(String(cString: strerror(errno))); lines are lost until it works again")
                }
                return
            }
            warnedAboutFailure = false
        }
    }
}
