import Foundation

/// Servers held in static properties are never deinitialised, so they would outlive the test process.
/// These stops run when the process exits normally.
public enum StopAtExit {
    nonisolated(unsafe) private static var actions: [() -> Void] = []
    private static let lock = NSLock()
    private static let installed: Void = { atexit { StopAtExit.runAll() } }()

    public static func register(_ action: @escaping () -> Void) {
        lock.lock()
        defer { lock.unlock() }
        _ = installed
        actions.append(action)
    }

    private static func runAll() {
        lock.lock()
        let pending = actions
        actions.removeAll()
        lock.unlock()
        for action in pending { action() }
    }
}
