import Glibc

/// A value shared between threads, guarded by a `pthread_mutex_t`. Used instead of the standard library's
/// `Synchronization.Mutex` for one reason: ThreadSanitizer. On Linux, `Mutex` waits with `FUTEX_LOCK_PI` inside
/// the (uninstrumented) standard library, so when two threads contend the kernel hands the lock to the waiter
/// without any user-space operation TSan can see, and `make sanitize` reports the guarded accesses as races (seen
/// with two workers answering the admin loop at once). TSan intercepts `pthread_mutex_lock`, so here it sees the
/// ordering. Uncontended, both cost one atomic operation each way.
public final class Locked<Value: ~Copyable>: @unchecked Sendable {  // safe: `value` is only touched with the mutex held
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    public init(_ value: consuming Value) {
        self.value = value
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    /// Runs `body` with the mutex held. Do not call `withLock` on the same instance inside it (not reentrant).
    public func withLock<Result, Failure: Error>(_ body: (inout Value) throws(Failure) -> Result) throws(Failure) -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
