#if canImport(Glibc)
    import Glibc
#endif

/// A child process started with posix_spawn, ended by its own PID. (Foundation's Process would pull
/// the whole of Foundation into the binary for this.)
public final class ChildProcess: @unchecked Sendable {
    public let pid: pid_t

    /// Starts `arguments[0]` with the current environment plus `environment`, and with every signal
    /// unblocked and at its default action: a child otherwise inherits what the parent blocks or ignores
    /// (ServiceLifecycle ignores SIGTERM to catch it itself), and would not stop when told to.
    /// - Parameter output: a file for the child's standard output and error, or nil to share ours.
    public init(_ arguments: [String], environment: [String: String] = [:], output: String? = nil) throws {
        var env = [String: String]()
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            if let eq = text.firstIndex(of: "=") { env[String(text[..<eq])] = String(text[text.index(after: eq)...]) }
            pointer += 1
        }
        env.merge(environment) { $1 }
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { argv.forEach { free($0) }; envp.forEach { free($0) } }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let output {
            posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_APPEND, 0o644)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, arguments[0], &actions, &attributes, argv, envp)
        guard status == 0 else { throw ChildProcessError(message: "cannot start \(arguments[0]): error \(status)") }
        self.pid = pid
    }

    public func signal(_ number: Int32) { kill(pid, number) }

    /// True while the child has not exited (it is reaped if it has).
    public var isRunning: Bool {
        if exitStatus != nil { return false }
        var status: Int32 = 0
        let result = waitpid(pid, &status, WNOHANG)
        if result == pid { exitStatus = decode(status); return false }
        return result == 0
    }

    private var exitStatus: Int32?

    private func decode(_ status: Int32) -> Int32 { status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f) }

    /// Waits for the child to exit; returns its exit status (128+signal when killed).
    @discardableResult
    public func wait() -> Int32 {
        if let exitStatus { return exitStatus }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        exitStatus = decode(status)
        return exitStatus!
    }

    /// Peak resident memory in kB, from /proc (VmHWM).
    public var peakRSSKilobytes: Int? {
        guard let file = fopen("/proc/\(pid)/status", "r") else { return nil }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 256)
        while fgets(&line, 256, file) != nil {
            let text = String(cString: line)
            if text.hasPrefix("VmHWM:") { return Int(text.split(separator: " ").dropFirst().first ?? "") }
        }
        return nil
    }

    /// CPU time used so far (user plus system), from /proc/PID/stat, in seconds.
    public var cpuSeconds: Double? {
        guard let file = fopen("/proc/\(pid)/stat", "r") else { return nil }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 1024)
        guard fgets(&line, 1024, file) != nil else { return nil }
        // Fields after the command name (which may hold spaces, so it ends at the last ')'):
        // utime and stime are the 12th and 13th.
        let text = String(cString: line)
        guard let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    public static var currentExecutable: String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        return count > 0 ? String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self) : CommandLine.arguments[0]
    }
}

public struct ChildProcessError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
