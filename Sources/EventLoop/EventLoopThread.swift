import Glibc

/// Starts an `EventLoop` on a dedicated pthread (no Foundation on the data plane).
public final class EventLoopThread: Sendable {
    public let loop: EventLoop
    private let thread: pthread_t

    private final class Box {
        let loop: EventLoop
        let onStart: @Sendable (EventLoop) -> Void
        init(loop: EventLoop, onStart: @escaping @Sendable (EventLoop) -> Void) {
            self.loop = loop
            self.onStart = onStart
        }
    }

    /// `onStart` runs on the new thread, on the loop, before it starts waiting: set up loop-owned state there.
    public init(name: String, onStart: @escaping @Sendable (EventLoop) -> Void = { _ in }) {
        let loop = EventLoop(name: name)
        self.loop = loop
        let box = Unmanaged.passRetained(Box(loop: loop, onStart: onStart)).toOpaque()
        var t = pthread_t()
        let rc = pthread_create(&t, nil, { arg in
            let box = Unmanaged<Box>.fromOpaque(arg!).takeRetainedValue()
            box.loop.execute { [box] in box.onStart(box.loop) }
            box.loop.run()
            return nil
        }, box)
        precondition(rc == 0, "pthread_create failed: \(rc)")
        thread = t
    }

    public func join() {
        pthread_join(thread, nil)
    }
}
