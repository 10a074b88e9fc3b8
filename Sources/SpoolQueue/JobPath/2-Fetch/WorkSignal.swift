import Logging
import SpoolRedis
import Synchronization

/// Wakes an idle worker the moment a job arrives, without polling.
///
/// Each served queue has a watcher with its own connection. While the fetch loop is idle, the watcher
/// blocks in `BLMOVE lanes lanes LEFT LEFT` on the ring of lanes with pending jobs: a rotation of one
/// element onto itself, which changes nothing, so nothing can be lost if the process dies, but returns
/// as soon as any lane has work. Watchers sleep while the worker is busy, so a full queue costs them nothing.
final class WorkSignal: Sendable {
    private struct State {
        var armed = false
        var armWaiters: [UnsafeContinuation<Void, Never>] = []
        var idleWaiter: UnsafeContinuation<Void, Never>?
        var fired = false
        /// Set at shutdown: nobody waits any more.
        var closed = false
    }
    private let state = Mutex(State())
    /// How long one blocking wait lasts; also how often an idle worker looks again on its own.
    static let blockSeconds = "1"

    /// Called by the fetch loop after an empty fetch: returns when a watcher saw work (or its wait timed out).
    func waitForWork() async {
        await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
            let toWake: [UnsafeContinuation<Void, Never>] = state.withLock { state in
                if state.fired || state.closed {
                    state.fired = false
                    continuation.resume()
                    return []
                }
                state.idleWaiter = continuation
                state.armed = true
                defer { state.armWaiters.removeAll() }
                return state.armWaiters
            }
            for waiter in toWake { waiter.resume() }
        }
    }

    var isClosed: Bool { state.withLock { $0.closed } }

    /// A watcher calls this after its blocking wait returns.
    func fire() {
        let waiter: UnsafeContinuation<Void, Never>? = state.withLock { state in
            if state.closed { return nil }
            state.armed = false
            guard let waiter = state.idleWaiter else { state.fired = true; return nil }
            state.idleWaiter = nil
            return waiter
        }
        waiter?.resume()
    }

    /// A watcher waits here until the fetch loop is idle.
    func waitUntilArmed() async {
        await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
            let ready = state.withLock { state in
                if state.armed || state.closed { return true }
                state.armWaiters.append(continuation)
                return false
            }
            if ready { continuation.resume() }
        }
    }

    /// Releases every waiter for good, for shutdown.
    func close() {
        let waiters = state.withLock { state in
            state.closed = true
            defer { state.armWaiters.removeAll(); state.idleWaiter = nil }
            return state.armWaiters + (state.idleWaiter.map { [$0] } ?? [])
        }
        for waiter in waiters { waiter.resume() }
    }

    /// One queue's watcher loop; runs until its task is cancelled.
    static func watch(queue: String, keys: KeySpace, url: RedisURL, signal: WorkSignal, fetcher: Fetcher, logger: Logger) async {
        var options = RedisClient.Options()
        options.commandTimeout = .seconds(5)
        let redis = RedisClient(url: url, name: "watch-\(queue)", options: options, logger: logger)
        defer { redis.close() }
        let key = keys.lanes(queue)
        while !Task.isCancelled && !signal.isClosed {
            await signal.waitUntilArmed()
            if Task.isCancelled || signal.isClosed { break }
            if fetcher.isPaused(queue) {
                // BLMOVE would return at once on a paused queue's non-empty list: look again later instead.
                try? await Task.sleep(for: .seconds(1))
            } else {
                do {
                    _ = try await redis.run("BLMOVE", key, key, "LEFT", "LEFT", blockSeconds)
                } catch {
                    try? await Task.sleep(for: redis.retryDelay)
                }
            }
            signal.fire()
        }
    }
}
