#if canImport(Glibc)
    import Glibc
#endif

/// A mutex with a condition variable, for handing work to a dedicated OS thread.
/// (`Synchronization.Mutex` has no condition variable to sleep on.)
public final class ConditionLock: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    public init() {
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    public func lock() { pthread_mutex_lock(mutex) }
    public func unlock() { pthread_mutex_unlock(mutex) }

    public func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock()
        defer { unlock() }
        return try body()
    }

    /// Sleeps until signalled; call with the lock held.
    public func wait() { pthread_cond_wait(condition, mutex) }

    /// Sleeps until signalled or `duration` passes; call with the lock held.
    public func wait(for duration: Duration) {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let (seconds, attoseconds) = duration.components
        var nanos = Int(now.tv_nsec) + Int(attoseconds / 1_000_000_000)
        var deadline = timespec(tv_sec: now.tv_sec + Int(seconds) + nanos / 1_000_000_000, tv_nsec: 0)
        nanos %= 1_000_000_000
        deadline.tv_nsec = nanos
        pthread_cond_timedwait(condition, mutex, &deadline)
    }

    public func signal() { pthread_cond_signal(condition) }
    public func broadcast() { pthread_cond_broadcast(condition) }
}

/// Starts a detached OS thread. Used for the few loops that must block in C calls.
public func startThread(name: String, _ body: @escaping @Sendable () -> Void) {
    final class Box { let body: @Sendable () -> Void; init(_ body: @escaping @Sendable () -> Void) { self.body = body } }
    let box = Unmanaged.passRetained(Box(body)).toOpaque()
    var thread = pthread_t()
    var attributes = pthread_attr_t()
    pthread_attr_init(&attributes)
    pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
    pthread_attr_setstacksize(&attributes, 512 * 1024)
    let result = pthread_create(
        &thread, &attributes,
        { raw in
            let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
            box.body()
            return nil
        }, box)
    pthread_attr_destroy(&attributes)
    precondition(result == 0, "pthread_create failed for \(name): \(result)")
}

/// Monotonic time since an arbitrary origin, for timeouts and latency measurements.
public func monotonicNow() -> Duration {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return .seconds(now.tv_sec) + .nanoseconds(now.tv_nsec)
}

/// Runs `body` in a task that the caller's cancellation does not reach, and waits for it: for the last
/// writes of a cancelled service, which the Redis, PostgreSQL and HTTP clients refuse to a cancelled task.
public func withoutCancellation<T: Sendable>(_ body: @escaping @Sendable () async -> T) async -> T {
    await Task { await body() }.value
}

/// Caps glibc's malloc arenas (`mallopt(M_ARENA_MAX, count)`), which otherwise grow to 8 per core as
/// threads allocate at once. Looked up at run time: Glibc's Swift module does not include malloc.h.
public func limitMallocArenas(_ count: Int32) {
    // RTLD_DEFAULT is the null handle on glibc; M_ARENA_MAX is -8 in malloc.h.
    guard let symbol = dlsym(nil, "mallopt") else { return }
    let mallopt = unsafeBitCast(symbol, to: (@convention(c) (Int32, Int32) -> Int32).self)
    _ = mallopt(-8, count)
}
