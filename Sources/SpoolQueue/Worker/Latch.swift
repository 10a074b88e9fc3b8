import SpoolSupport
import Synchronization

/// A one-shot event that any number of tasks can wait for.
final class Latch: Sendable {
    private let state = Mutex<(fired: Bool, waiters: [UnsafeContinuation<Void, Never>])>((false, []))

    func fire() {
        let waiters = state.withLock { state in
            state.fired = true
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    var isFired: Bool { state.withLock { $0.fired } }

    func wait() async {
        await withUnsafeContinuation { continuation in
            let fired = state.withLock { state in
                if !state.fired { state.waiters.append(continuation) }
                return state.fired
            }
            if fired { continuation.resume() }
        }
    }
}

/// Sleeps for `duration` even in a cancelled task (the drain must wait out its grace period whether
/// shutdown came as a signal or as cancellation), or until `latch` fires. Sleeps in short detached
/// steps: cancellation cannot cut them short, and a fired latch is noticed within 50 ms.
func pause(_ duration: Duration, unless latch: Latch? = nil) async {
    let deadline = monotonicNow() + duration
    while latch?.isFired != true {
        let left = deadline - monotonicNow()
        if left <= .zero { return }
        await Task.detached { try? await Task.sleep(for: min(left, .milliseconds(50))) }.value
    }
}
