import CProxyLinux
import Config
import EventLoop
import Glibc
import Proxy
import Synchronization

/// The access log: one line per finished call, formatted on the worker that finished it into that worker's
/// bounded buffer, written to the destination by a thread of its own every 50 ms (a slow disk never blocks a
/// worker; when the buffer is full the line is dropped and counted). SIGUSR1 reopens the file (logrotate).
final class AccessLog: Sendable {
    let config: AccessLogConfig
    private let buffers: [AccessLogBuffer]
    private let file: Locked<AccessLogFile>
    private let thread: Locked<EventLoopThread?> = Locked(nil)
    static let flushIntervalNanos: UInt64 = 50_000_000

    /// Opens the destination (so a bad path fails the start).
    init(config: AccessLogConfig, workers: Int) throws(AccessLogFile.OpenError) {
        self.config = config
        buffers = (0..<workers).map { _ in AccessLogBuffer() }
        file = Locked(try AccessLogFile(config.destination))
    }

    /// Lines dropped because a worker's buffer was full.
    var droppedLines: Int { buffers.reduce(0) { $0 + $1.dropped.load(ordering: .relaxed) } }

    /// The observer for worker `index`'s `callObservers` (used on that worker's loop only).
    func observer(worker index: Int) -> (CallSummary) -> Void {
        let sink = AccessLogSink(config: config, buffer: buffers[index])
        return { sink.record($0) }
    }

    func start() {
        let t = EventLoopThread(name: "access-log") { [self] loop in
            CProxyLinux_set_thread_name("access-log")
            self.scheduleFlush(on: loop)
        }
        thread.withLock { $0 = t }
    }

    private func scheduleFlush(on loop: EventLoop) {
        _ = loop.scheduleTimer(afterNanos: Self.flushIntervalNanos) { [self] in
            self.flush()
            self.scheduleFlush(on: loop)
        }
    }

    /// Writes every worker's buffered lines. Only the writer thread calls it while running, and `stop` once after.
    func flush() {
        file.withLock { file in
            var scratch = file.scratch
            file.scratch = []
            for buffer in buffers {
                buffer.take(into: &scratch)
                file.write(scratch)
            }
            file.scratch = scratch
        }
    }

    /// SIGUSR1: what is buffered goes to the old file, then the path is opened again (a new file after a rename).
    func reopen() {
        flush()
        file.withLock { $0.reopen() }
    }

    /// Writes what is left (after the workers stopped) and stops the writer.
    func stop() {
        if let t = thread.withLock({ $0 }) {
            t.loop.stop()
            t.join()
        }
        flush()
    }

    func prometheusText() -> String {
        "# HELP grpcwebproxy_access_log_dropped_total Access log lines dropped because a worker's buffer was full (the writer fell behind).\n"
            + "# TYPE grpcwebproxy_access_log_dropped_total counter\n"
            + "grpcwebproxy_access_log_dropped_total \(droppedLines)\n"
    }
}

/// One worker's side: the filter, the sampling and the formatting. Loop-confined.
final class AccessLogSink {
    private let onlyErrors: Bool
    private let sample: Double
    /// Sampling without randomness: each call adds `sample`; a line is written each time the sum passes 1.
    private var sampleCredit = 0.0
    private var line: AccessLogLine
    private let buffer: AccessLogBuffer

    init(config: AccessLogConfig, buffer: AccessLogBuffer) {
        onlyErrors = config.onlyErrors
        sample = config.sample
        line = AccessLogLine(format: config.format)
        self.buffer = buffer
    }

    func record(_ summary: CallSummary) {
        if onlyErrors && summary.grpcStatus == 0 { return }
        if sample < 1 {
            sampleCredit += sample
            guard sampleCredit >= 1 else { return }
            sampleCredit -= 1
        }
        buffer.append { line.append(summary, to: &$0) }
    }
}
