internal import CProxyLinux
import Glibc

/// Readiness callbacks for a file descriptor registered on a loop. Called only on the loop's thread.
public protocol FileEventHandler: AnyObject {
    func onReadable()
    func onWritable()
    /// EPOLLERR / EPOLLHUP without readable data; the handler usually closes.
    func onHangup()
}

/// Interest set for a registration.
public struct IOInterest: OptionSet, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let read = IOInterest(rawValue: 1)
    public static let write = IOInterest(rawValue: 2)
}

/// Handle of a scheduled timer; `cancel` is idempotent.
public struct TimerHandle: Hashable, Sendable {
    public let id: UInt64
}

/// One epoll loop per worker thread.
///
/// Everything registered here (fds, timers, deferred work) is touched only on the loop's own thread; the only
/// cross-thread entry point is `execute(_:)`, which queues work under a mutex and wakes the loop via eventfd.
/// Level-triggered epoll, the next timer deadline (rounded up to ms) as the epoll timeout, a generation number in
/// the epoll data so events for a reused fd are dropped, and deferred work run at the end of each iteration so
/// an object can close itself from inside its own callback.
public final class EventLoop: @unchecked Sendable {  // safe: mutable state is loop-thread only; `pending` is a Locked
    private struct Registration {
        var generation: UInt32
        var interest: IOInterest
        /// Strong: a registered handler lives until it unregisters (every owner does, on close). A weak reference
        /// would give every connection a side table and slow down all of its retains and releases.
        var handler: any FileEventHandler
    }

    public let name: String
    private let epfd: Int32
    private let wakeFd: Int32
    private var registrations: [Registration?] = []
    private var nextGeneration: UInt32 = 1
    private var timers = TimerHeap()
    private var timerCallbacks: [UInt64: () -> Void] = [:]
    private var nextTimerID: UInt64 = 1
    private var deferred: [() -> Void] = []
    private var running = false
    private var threadID: pthread_t?
    /// Cached per iteration: reading the clock once per loop turn is enough for timeouts.
    public private(set) var now: UInt64 = MonotonicClock.nowNanos()

    private struct Pending: ~Copyable {
        var tasks: [@Sendable () -> Void] = []
        var wakePending = false
        var stopRequested = false
    }
    private let pending = Locked(Pending())

    public init(name: String) {
        self.name = name
        epfd = CProxyLinux_epoll_create()
        precondition(epfd >= 0, "epoll_create1 failed: errno \(errno)")
        wakeFd = CProxyLinux_eventfd()
        precondition(wakeFd >= 0, "eventfd failed: errno \(errno)")
        // The wake fd uses generation 0, which no registration ever gets.
        _ = CProxyLinux_epoll_ctl(epfd, EPOLL_CTL_ADD, wakeFd, CProxyLinux_EPOLLIN, UInt64(UInt32(bitPattern: wakeFd)))
    }

    deinit {
        close(epfd)
        close(wakeFd)
    }

    /// True when called on this loop's thread.
    public var inLoop: Bool {
        guard let t = threadID else { return false }
        return pthread_equal(t, pthread_self()) != 0
    }

    // MARK: Cross-thread hand-over

    /// Runs `work` on the loop thread. Safe from any thread. The eventfd is written only when no wake-up is
    /// already pending, so a burst of hand-overs costs one syscall.
    public func execute(_ work: @escaping @Sendable () -> Void) {
        let mustWake = pending.withLock { p -> Bool in
            p.tasks.append(work)
            if p.wakePending { return false }
            p.wakePending = true
            return true
        }
        if mustWake { _ = CProxyLinux_eventfd_write(wakeFd) }
    }

    /// Asks the loop to return from `run()` after the current iteration. Safe from any thread.
    public func stop() {
        pending.withLock { $0.stopRequested = true }
        _ = CProxyLinux_eventfd_write(wakeFd)
    }

    // MARK: File descriptors

    public func register(fd: Int32, interest: IOInterest, handler: any FileEventHandler) {
        let index = Int(fd)
        if index >= registrations.count {
            registrations.append(contentsOf: repeatElement(nil, count: index + 1 - registrations.count))
        }
        nextGeneration &+= 1
        if nextGeneration == 0 { nextGeneration = 1 }
        registrations[index] = Registration(generation: nextGeneration, interest: interest, handler: handler)
        let rc = CProxyLinux_epoll_ctl(epfd, EPOLL_CTL_ADD, fd, epollMask(interest), token(fd: fd, generation: nextGeneration))
        precondition(rc == 0, "epoll_ctl ADD fd \(fd) failed: errno \(errno)")
    }

    public func setInterest(fd: Int32, _ interest: IOInterest) {
        guard Int(fd) < registrations.count, var reg = registrations[Int(fd)] else { return }
        if reg.interest == interest { return }
        reg.interest = interest
        registrations[Int(fd)] = reg
        _ = CProxyLinux_epoll_ctl(epfd, EPOLL_CTL_MOD, fd, epollMask(interest), token(fd: fd, generation: reg.generation))
    }

    /// Removes the fd from epoll; call before closing it.
    public func unregister(fd: Int32) {
        guard Int(fd) < registrations.count, registrations[Int(fd)] != nil else { return }
        registrations[Int(fd)] = nil
        _ = CProxyLinux_epoll_ctl(epfd, EPOLL_CTL_DEL, fd, 0, 0)
    }

    private func epollMask(_ interest: IOInterest) -> UInt32 {
        var m: UInt32 = CProxyLinux_EPOLLRDHUP
        if interest.contains(.read) { m |= CProxyLinux_EPOLLIN }
        if interest.contains(.write) { m |= CProxyLinux_EPOLLOUT }
        return m
    }

    private func token(fd: Int32, generation: UInt32) -> UInt64 {
        UInt64(generation) << 32 | UInt64(UInt32(bitPattern: fd))
    }

    // MARK: Timers

    /// Schedules `callback` after `delayNanos`. Loop thread only.
    @discardableResult
    public func scheduleTimer(afterNanos delayNanos: UInt64, _ callback: @escaping () -> Void) -> TimerHandle {
        let id = nextTimerID
        nextTimerID &+= 1
        let base = MonotonicClock.nowNanos()
        timers.push(.init(deadline: base &+ delayNanos, id: id))
        timerCallbacks[id] = callback
        return TimerHandle(id: id)
    }

    public func scheduleTimer(after delay: Duration, _ callback: @escaping () -> Void) -> TimerHandle {
        scheduleTimer(afterNanos: UInt64(max(0, delay.nanoseconds)), callback)
    }

    public func cancelTimer(_ handle: TimerHandle?) {
        guard let handle else { return }
        guard timerCallbacks.removeValue(forKey: handle.id) != nil else { return }
        // Cancelled entries stay in the heap until they surface; once they outnumber the live ones (plus slack,
        // so small heaps never pay), drop them all in one O(n) pass: amortised O(1) per cancel, and the heap
        // stays within twice the live timers however far away the cancelled deadlines were.
        if timers.count > 2 * timerCallbacks.count + Self.timerHeapSlack {
            timers.removeAll { timerCallbacks[$0.id] == nil }
        }
    }

    static let timerHeapSlack = 1024

    /// Entries in the timer heap, cancelled ones included (bounded by 2 x live + slack). For tests and metrics.
    public var timerHeapEntries: Int { timers.count }
    /// Timers scheduled and not yet fired or cancelled.
    public var liveTimers: Int { timerCallbacks.count }

    /// Runs `work` at the end of the current iteration (after all I/O callbacks). Loop thread only.
    public func deferUntilEndOfIteration(_ work: @escaping () -> Void) {
        deferred.append(work)
    }

    // MARK: Running

    /// Runs the loop on the calling thread until `stop()`.
    public func run() {
        threadID = pthread_self()
        running = true
        var events = [UInt32](repeating: 0, count: 256)
        var datas = [UInt64](repeating: 0, count: 256)
        while running {
            let timeout = nextTimeoutMillis()
            let n = events.withUnsafeMutableBufferPointer { ev in
                datas.withUnsafeMutableBufferPointer { d in
                    CProxyLinux_epoll_wait(epfd, ev.baseAddress, d.baseAddress, 256, timeout)
                }
            }
            now = MonotonicClock.nowNanos()
            if n > 0 {
                for i in 0..<Int(n) { dispatch(events: events[i], data: datas[i]) }
            }
            runTimers()
            runDeferred()
        }
        // Work handed over after stop is still run so no hand-over is silently lost.
        drainHandOvers()
        runDeferred()
    }

    private func dispatch(events: UInt32, data: UInt64) {
        let fd = Int32(bitPattern: UInt32(truncatingIfNeeded: data))
        let generation = UInt32(truncatingIfNeeded: data >> 32)
        if generation == 0 && fd == wakeFd {
            _ = CProxyLinux_eventfd_drain(wakeFd)
            drainHandOvers()
            return
        }
        // Re-validate before each callback: an earlier callback may have closed or replaced this fd.
        func current() -> Registration? {
            guard Int(fd) < registrations.count, let reg = registrations[Int(fd)], reg.generation == generation else { return nil }
            return reg
        }
        guard let reg = current() else { return }
        let handler = reg.handler
        let readable = events & (CProxyLinux_EPOLLIN | CProxyLinux_EPOLLRDHUP) != 0
        let writable = events & CProxyLinux_EPOLLOUT != 0
        let failed = events & (CProxyLinux_EPOLLERR | CProxyLinux_EPOLLHUP) != 0
        if readable && reg.interest.contains(.read) { handler.onReadable() }
        if writable, let reg2 = current(), reg2.interest.contains(.write) { handler.onWritable() }
        if failed, current() != nil, !(readable && reg.interest.contains(.read)) { handler.onHangup() }
    }

    private func drainHandOvers() {
        let (tasks, stopRequested) = pending.withLock { p -> ([@Sendable () -> Void], Bool) in
            let t = p.tasks
            p.tasks = []
            p.wakePending = false
            return (t, p.stopRequested)
        }
        for task in tasks { task() }
        if stopRequested { running = false }
    }

    private func nextTimeoutMillis() -> Int32 {
        if !deferred.isEmpty { return 0 }
        while let top = timers.first, timerCallbacks[top.id] == nil { _ = timers.pop() }
        guard let top = timers.first else { return -1 }
        let nowNs = MonotonicClock.nowNanos()
        if top.deadline <= nowNs { return 0 }
        // Round up so the loop never wakes just before the deadline and spins.
        let ms = (top.deadline - nowNs + 999_999) / 1_000_000
        return Int32(min(ms, 3_600_000))
    }

    private func runTimers() {
        while let top = timers.first, top.deadline <= now {
            _ = timers.pop()
            if let cb = timerCallbacks.removeValue(forKey: top.id) { cb() }
        }
    }

    private func runDeferred() {
        while !deferred.isEmpty {
            let work = deferred
            deferred = []
            for w in work { w() }
        }
    }
}
