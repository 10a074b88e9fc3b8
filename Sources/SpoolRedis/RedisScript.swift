import SpoolSupport

/// A Lua script run by EVALSHA. Its SHA-1 is computed locally, so nothing is sent before first use;
/// on NOSCRIPT (a restarted or flushed Redis) the caller resends it once with EVAL, which also caches it.
public struct RedisScript: Sendable {
    public let name: String
    public let source: String
    public let sha: String

    public init(name: String, source: String) {
        self.name = name
        self.source = source
        self.sha = Hashing.sha1Hex(Array(source.utf8))
    }

    /// The EVALSHA command for these keys and arguments.
    public func command(keys: [String], arguments: [String]) -> RedisCommand {
        call("EVALSHA", sha, keys: keys, arguments: arguments)
    }

    /// The same call as EVAL with the full source, for after a NOSCRIPT reply.
    public func evalCommand(keys: [String], arguments: [String]) -> RedisCommand {
        call("EVAL", source, keys: keys, arguments: arguments)
    }

    private func call(_ verb: String, _ script: String, keys: [String], arguments: [String]) -> RedisCommand {
        var command = RedisCommand(verb)
        command.append(script)
        command.append(keys.count)
        for key in keys { command.append(key) }
        for argument in arguments { command.append(argument) }
        command.relabel("\(verb) \(name)")
        return command
    }
}

/// A call of a script with its keys and arguments, so that a pipeline of calls can be retried after NOSCRIPT.
public struct ScriptCall: Sendable {
    public let script: RedisScript
    public let keys: [String]
    public let arguments: [String]
    public init(_ script: RedisScript, keys: [String], arguments: [String]) {
        self.script = script
        self.keys = keys
        self.arguments = arguments
    }
}

extension RedisClient {
    /// Runs a script and throws its error reply, if any, naming the script.
    @discardableResult
    public func run(_ script: RedisScript, keys: [String], arguments: [String]) async throws -> RedisReply {
        try await run([ScriptCall(script, keys: keys, arguments: arguments)])[0].checked("EVALSHA \(script.name)")
    }

    /// Runs script calls in one round trip; replies (errors included) come back in order.
    /// Calls answered NOSCRIPT are sent again with EVAL, once.
    public func run(_ calls: [ScriptCall]) async throws -> [RedisReply] {
        var replies = try await pipeline(calls.map { $0.script.command(keys: $0.keys, arguments: $0.arguments) })
        let missing = replies.indices.filter { replies[$0].errorMessage?.hasPrefix("NOSCRIPT") == true }
        if missing.isEmpty { return replies }
        let again = try await pipeline(missing.map { calls[$0].script.evalCommand(keys: calls[$0].keys, arguments: calls[$0].arguments) })
        for (index, reply) in zip(missing, again) { replies[index] = reply }
        return replies
    }
}
