import EventLoop
import Proxy

/// One scrape's gathering of the workers' labelled metrics, on the admin loop. Each worker copies its counters on
/// its own loop (hand-over with `loop.execute`, so the workers' counters stay plain Ints with no lock or atomic)
/// and hands the copy back to the admin loop, where they are summed. A worker that does not answer within the
/// timeout (stuck in a long turn) is left out and counted, so a scrape never hangs. Loop-confined (admin loop).
final class MetricsCollection {
    private var sum = MetricsSnapshot()
    private var waiting: Int
    private var timer: TimerHandle?
    private var done: ((MetricsSnapshot, Int) -> Void)?
    private let loop: EventLoop

    init(loop: EventLoop, workers: Int, done: @escaping (MetricsSnapshot, Int) -> Void) {
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

    func received(_ snapshot: MetricsSnapshot) {
        guard done != nil else { return }  // arrived after the timeout
        sum.add(snapshot)
        waiting -= 1
        if waiting == 0 { finish() }
    }

    private func finish() {
        guard let done else { return }
        self.done = nil
        loop.cancelTimer(timer)
        timer = nil
        done(sum, waiting)
    }
}

extension ProxyServer {
    /// Asks every worker for its labelled metrics and calls `done` on `replyLoop` with their sum and the number of
    /// workers that did not answer within `timeout`. Call on `replyLoop`.
    func collectMetrics(replyOn replyLoop: EventLoop, timeout: Duration, _ done: @escaping (MetricsSnapshot, Int) -> Void) {
        let loops = workerLoops
        let collection = MetricsCollection(loop: replyLoop, workers: loops.count, done: done)
        let handle = UnsafeTransfer(collection)  // dereferenced only on replyLoop
        for loop in loops {
            loop.execute {
                let snapshot = WorkerRegistry.context(on: loop)?.metricsSnapshot() ?? MetricsSnapshot()
                replyLoop.execute { handle.value.received(snapshot) }
            }
        }
        collection.start(timeout: timeout)
    }
}
