import EventLoop
import Glibc
import Synchronization
import Transport
import XCTest

/// Collects values from the loop thread for assertions on the test thread.
final class Recorder<T: Sendable>: Sendable {
    private let values = Mutex<[T]>([])
    func append(_ v: T) { values.withLock { $0.append(v) } }
    var all: [T] { values.withLock { $0 } }
}

func waitUntil(_ seconds: Double, _ condition: () -> Bool) -> Bool {
    let deadline = MonotonicClock.nowNanos() + UInt64(seconds * 1e9)
    while MonotonicClock.nowNanos() < deadline {
        if condition() { return true }
        usleep(2000)
    }
    return condition()
}

final class EventLoopTests: XCTestCase {
    func testTimersFireInDeadlineOrderAndOnTime() {
        let thread = EventLoopThread(name: "t")
        defer { thread.loop.stop(); thread.join() }
        let fired = Recorder<(Int, UInt64)>()
        let start = MonotonicClock.nowNanos()
        thread.loop.execute {
            // Scheduled out of order on purpose; equal deadlines keep scheduling order.
            for (id, ms) in [(3, 60), (1, 20), (2, 40), (4, 60), (0, 0)] {
                thread.loop.scheduleTimer(afterNanos: UInt64(ms) * 1_000_000) { fired.append((id, MonotonicClock.nowNanos() - start)) }
            }
        }
        XCTAssertTrue(waitUntil(2) { fired.all.count == 5 })
        XCTAssertEqual(fired.all.map(\.0), [0, 1, 2, 3, 4])
        let expected: [Int: UInt64] = [0: 0, 1: 20, 2: 40, 3: 60, 4: 60]
        for (id, elapsed) in fired.all {
            let want = expected[id]! * 1_000_000
            XCTAssertGreaterThanOrEqual(elapsed, want, "timer \(id) fired early")
            // Generous upper bound: the machine is shared and noisy.
            XCTAssertLessThan(elapsed, want + 150_000_000, "timer \(id) fired late: \(elapsed / 1_000_000) ms")
        }
    }

    func testCancelledTimerDoesNotFire() {
        let thread = EventLoopThread(name: "t")
        defer { thread.loop.stop(); thread.join() }
        let fired = Recorder<String>()
        thread.loop.execute {
            let h = thread.loop.scheduleTimer(afterNanos: 10_000_000) { fired.append("cancelled") }
            thread.loop.scheduleTimer(afterNanos: 30_000_000) { fired.append("kept") }
            thread.loop.cancelTimer(h)
            thread.loop.cancelTimer(h)  // idempotent
        }
        XCTAssertTrue(waitUntil(2) { fired.all.count == 1 })
        usleep(50_000)
        XCTAssertEqual(fired.all, ["kept"])
    }

    /// Issue 9 #7: cancelled timers with far deadlines (grpc-timeout 99999999H) used to stay in the heap forever.
    func testCancelledFarTimersDoNotAccumulateAndLiveOnesStillFireInOrder() {
        let thread = EventLoopThread(name: "t")
        defer { thread.loop.stop(); thread.join() }
        let loop = thread.loop
        let sizes = Recorder<(Int, Int)>()
        let fired = Recorder<Int>()
        loop.execute {
            // A few live timers that must survive every compaction, in order.
            for (id, ms) in [(2, 40), (0, 10), (1, 20)] {
                loop.scheduleTimer(afterNanos: UInt64(ms) * 1_000_000) { fired.append(id) }
            }
            for _ in 0..<200_000 {
                let h = loop.scheduleTimer(afterNanos: 360_000 * 1_000_000_000_000) {}
                loop.cancelTimer(h)
            }
            sizes.append((loop.timerHeapEntries, loop.liveTimers))
        }
        XCTAssertTrue(waitUntil(5) { fired.all.count == 3 })
        XCTAssertEqual(fired.all, [0, 1, 2])
        let (entries, live) = sizes.all[0]
        XCTAssertEqual(live, 3)
        XCTAssertLessThanOrEqual(entries, 2 * live + 1024 + 1, "heap kept \(entries) entries for \(live) live timers")
    }

    func testCrossThreadHandOverRunsEveryTaskOnTheLoopThread() {
        let thread = EventLoopThread(name: "t")
        defer { thread.loop.stop(); thread.join() }
        let perProducer = 5_000
        let producers = 8
        let seen = Recorder<Int>()
        let offLoop = Atomic<Int>(0)
        let loop = thread.loop
        DispatchQueueLess.concurrentPerform(iterations: producers) { p in
            for i in 0..<perProducer {
                loop.execute {
                    if !loop.inLoop { offLoop.add(1, ordering: .relaxed) }
                    seen.append(p * perProducer + i)
                }
            }
        }
        XCTAssertTrue(waitUntil(10) { seen.all.count == producers * perProducer })
        XCTAssertEqual(offLoop.load(ordering: .relaxed), 0)
        XCTAssertEqual(Set(seen.all).count, producers * perProducer, "every task runs exactly once")
        // Per producer, tasks run in submission order.
        var lastByProducer = [Int](repeating: -1, count: producers)
        for v in seen.all {
            let p = v / perProducer
            XCTAssertGreaterThan(v, lastByProducer[p])
            lastByProducer[p] = v
        }
    }

    func testDeferredWorkRunsAfterTheCurrentCallback() {
        let thread = EventLoopThread(name: "t")
        defer { thread.loop.stop(); thread.join() }
        let order = Recorder<String>()
        thread.loop.execute {
            thread.loop.deferUntilEndOfIteration { order.append("deferred") }
            order.append("callback")
        }
        XCTAssertTrue(waitUntil(2) { order.all.count == 2 })
        XCTAssertEqual(order.all, ["callback", "deferred"])
    }

    /// Issue 9 #8: behind a peer that does not read, every append used to reserve exactly `count + n`, re-copying
    /// the whole queue per chunk (quadratic). Growth must be geometric: few reallocations for many appends.
    func testWriteQueueGrowsGeometricallyBehindAPeerThatDoesNotRead() {
        let thread = EventLoopThread(name: "t")
        defer { thread.loop.stop(); thread.join() }
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds), 0)
        defer { close(fds[1]) }
        _ = fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK)
        let result = Recorder<(Int, Int)>()
        let loop = thread.loop
        let proxySide = fds[0]
        loop.execute {
            let c = TCPConnection(loop: loop, fd: proxySide, readBuffer: LoopReadBuffer())
            let piece = [UInt8](repeating: 7, count: 1024)
            let head = [UInt8](repeating: 1, count: 8)
            var reallocations = 0
            var capacity = c.writeBufferCapacity
            for _ in 0..<8_000 {
                head.withUnsafeBytes { h in piece.withUnsafeBytes { p in c.write(parts: [h, p]) } }
                if c.writeBufferCapacity != capacity { reallocations += 1; capacity = c.writeBufferCapacity }
            }
            result.append((reallocations, c.bufferedBytes))
            c.close()
        }
        XCTAssertTrue(waitUntil(5) { result.all.count == 1 })
        let (reallocations, buffered) = result.all[0]
        XCTAssertGreaterThan(buffered, 4 << 20, "the peer's socket buffer should have filled")
        XCTAssertLessThan(reallocations, 40, "\(reallocations) reallocations for 8000 appends")
    }

    func testTCPEchoThroughListenerAndConnection() throws {
        let thread = EventLoopThread(name: "t")
        defer { thread.loop.stop(); thread.join() }
        let port = Atomic<Int>(0)
        let loop = thread.loop
        loop.execute {
            let addr = SocketAddress.resolve(host: "127.0.0.1", port: 0, passive: true)[0]
            let buffer = LoopReadBuffer()
            let listener = try! TCPListener(loop: loop, address: addr) { fd, _ in
                let echo = EchoHandler()
                let c = TCPConnection(loop: loop, fd: fd, readBuffer: buffer)
                c.delegate = echo
                KeepAlive.objects.append(c)
            }
            KeepAlive.objects.append(listener)
            port.store(listener.localAddress.port, ordering: .sequentiallyConsistent)
        }
        XCTAssertTrue(waitUntil(2) { port.load(ordering: .sequentiallyConsistent) != 0 })
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_port = UInt16(port.load(ordering: .sequentiallyConsistent)).bigEndian
        sin.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &sin) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        XCTAssertEqual(rc, 0)
        // 1 MiB through a 64 KiB read buffer exercises partial writes and the write queue.
        let payload = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let writer = Thread2 { payload.withUnsafeBytes { var off = 0; while off < $0.count { let n = write(fd, $0.baseAddress! + off, $0.count - off); if n <= 0 { break }; off += n } } }
        var received: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while received.count < payload.count {
            let n = read(fd, &buf, buf.count)
            if n <= 0 { break }
            received += buf[0..<n]
        }
        writer.join()
        XCTAssertEqual(received.count, payload.count)
        XCTAssertTrue(received == payload)
    }
}

/// Objects the loop thread must keep alive during a test (touched only there).
enum KeepAlive {
    nonisolated(unsafe) static var objects: [AnyObject] = []  // test-only: appended from one loop thread
}

final class EchoHandler: TCPConnectionDelegate {
    /// Collects why connections closed ("timeout: ..." for TLS handshake timeouts), when set.
    var failures: Recorder<String>?
    func connectionDidConnect(_ connection: TCPConnection) {}
    func connectionDidRead(_ connection: TCPConnection, _ bytes: UnsafeRawBufferPointer) { connection.write(bytes) }
    func connectionDidReadEOF(_ connection: TCPConnection) { connection.closeAfterWrites() }
    func connectionDidDrainWrites(_ connection: TCPConnection) {}
    func connectionDidClose(_ connection: TCPConnection, errno: Int32) {
        guard let failures, let failure = connection.tlsFailure else { return }
        failures.append((failure.kind == .handshakeTimeout ? "timeout: " : "") + failure.message)
    }
}

/// Minimal pthread helpers so the tests need no Foundation.
final class Thread2 {
    private var t = pthread_t()
    private final class Box { let body: () -> Void; init(_ b: @escaping () -> Void) { body = b } }
    init(_ body: @escaping () -> Void) {
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        pthread_create(&t, nil, { arg in
            Unmanaged<Box>.fromOpaque(arg!).takeRetainedValue().body()
            return nil
        }, box)
    }
    func join() { pthread_join(t, nil) }
}

enum DispatchQueueLess {
    static func concurrentPerform(iterations: Int, _ body: @escaping (Int) -> Void) {
        let threads = (0..<iterations).map { i in Thread2 { body(i) } }
        for t in threads { t.join() }
    }
}
