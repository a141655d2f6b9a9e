import EventLoop
import Proxy

/// One admin request's gathering of something from every worker, on the admin loop. Each worker builds its part
/// on its own loop (hand-over with `loop.execute`, so the workers' counters stay plain Ints with no lock or
/// atomic) and hands it back to the admin loop. A worker that does not answer within the timeout (stuck in a long
/// turn) is left out and counted, so a request never hangs. Loop-confined (admin loop).
final class WorkerCollection<Part: Sendable> {
    private var parts: [Part] = []
    private var waiting: Int
    private var timer: TimerHandle?
    private var done: (([Part], Int) -> Void)?
    private let loop: EventLoop

    init(loop: EventLoop, workers: Int, done: @escaping ([Part], Int) -> Void) {
        self.loop = loop
        self.waiting = workers
        self.done = done
    }

    func start(timeout: Duration) {
        if waiting == 0 { return finish() }
        timer = loop.scheduleTimer(after: timeout) { [self] in
            timer = nil
            finish()
        }
    }

    func received(_ part: Part?) {
        guard done != nil else { return }  // arrived after the timeout
        if let part { parts.append(part) }
        waiting -= 1
        if waiting == 0 { finish() }
    }

    private func finish() {
        guard let done else { return }
        self.done = nil
        loop.cancelTimer(timer)
        timer = nil
        done(parts, waiting)
    }
}

extension ProxyServer {
    /// Asks every worker for `part(worker)` (run on that worker's loop) and calls `done` on `replyLoop` with the
    /// answers and the number of workers that did not answer within `timeout`. Call on `replyLoop`.
    func collectFromWorkers<Part: Sendable>(replyOn replyLoop: EventLoop, timeout: Duration,
                                            _ part: @escaping @Sendable (WorkerContext) -> Part,
                                            _ done: @escaping ([Part], Int) -> Void) {
        let loops = workerLoops
        let collection = WorkerCollection<Part>(loop: replyLoop, workers: loops.count, done: done)
        let handle = UnsafeTransfer(collection)  // dereferenced only on replyLoop
        for loop in loops {
            loop.execute {
                // A worker without a context (not installed yet) answers at once, with nothing.
                let answer = WorkerRegistry.context(on: loop).map(part)
                replyLoop.execute { handle.value.received(answer) }
            }
        }
        collection.start(timeout: timeout)
    }

    /// The workers' labelled metrics summed, and how many workers did not answer in time.
    func collectMetrics(replyOn replyLoop: EventLoop, timeout: Duration, _ done: @escaping (MetricsSnapshot, Int) -> Void) {
        collectFromWorkers(replyOn: replyLoop, timeout: timeout, { $0.metricsSnapshot() }) { parts, missing in
            var sum = MetricsSnapshot()
            for part in parts { sum.add(part) }
            done(sum, missing)
        }
    }
}
