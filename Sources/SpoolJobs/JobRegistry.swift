import SpoolQueue

/// Every job kind this build can run, by name. Each one must be declared in `Jobs/<kind>.json`, and
/// every declaration must have its handler here: `checkHandlers` stops a process that disagrees.
public enum JobRegistry {
    public static let handlers: [any JobHandler] = [
        NoopHandler(),
    ]
}
