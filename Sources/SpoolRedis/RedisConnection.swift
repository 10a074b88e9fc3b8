import CHiredis

#if canImport(Glibc)
    import Glibc
#endif

/// A blocking connection to Redis that owns one hiredis context.
///
/// Not thread safe: exactly one thread uses a connection (see `RedisClient`, which gives each
/// connection a thread of its own so that blocking I/O never runs on Swift's cooperative pool).
public final class RedisConnection {
    public let url: RedisURL
    private var context: UnsafeMutablePointer<redisContext>?

    /// Connects, then logs in and selects the database the URL names.
    /// - Parameters:
    ///   - connectTimeout: how long the TCP connect may take.
    ///   - commandTimeout: how long any one reply may take; a blocking command needs more than its own timeout.
    public init(url: RedisURL, connectTimeout: Duration = .seconds(2), commandTimeout: Duration = .seconds(5)) throws {
        self.url = url
        guard let context = redisConnectWithTimeout(url.host, Int32(url.port), timeval(connectTimeout)) else {
            throw RedisError(.connection, "could not allocate a hiredis context for \(url)")
        }
        self.context = context
        if spool_redis_err(context) != 0 {
            let message = String(cString: spool_redis_errstr(context))
            redisFree(context)
            self.context = nil
            throw RedisError(.connection, "cannot connect to \(url): \(message)")
        }
        guard redisSetTimeout(context, timeval(commandTimeout)) == REDIS_OK else {
            throw RedisError(.connection, "cannot set the command timeout on \(url)")
        }
        _ = redisEnableKeepAlive(context)
        if let password = url.password {
            var auth = RedisCommand("AUTH")
            if let username = url.username { auth.append(username) }
            auth.append(password)
            auth.relabel("AUTH")
            _ = try run(auth).checked("AUTH")
        }
        if url.database != 0 {
            _ = try run(RedisCommand("SELECT", String(url.database))).checked("SELECT")
        }
    }

    deinit {
        if let context { redisFree(context) }
    }

    /// Runs one command and waits for its reply. An error reply is returned, not thrown.
    public func run(_ command: RedisCommand) throws -> RedisReply {
        try pipeline([command])[0]
    }

    /// Writes all commands, then reads their replies in order: one round trip for the lot.
    /// Error replies are returned in place; a broken connection throws and the connection is unusable.
    public func pipeline(_ commands: [RedisCommand]) throws -> [RedisReply] {
        guard let context else { throw RedisError(.connection, "connection to \(url) is closed") }
        for command in commands {
            let frame = command.encoded()
            let status = frame.withUnsafeBufferPointer { buffer in
                buffer.withMemoryRebound(to: CChar.self) { redisAppendFormattedCommand(context, $0.baseAddress, $0.count) }
            }
            guard status == REDIS_OK else { throw failure(in: command.label) }
        }
        var replies: [RedisReply] = []
        replies.reserveCapacity(commands.count)
        for command in commands {
            var raw: UnsafeMutableRawPointer?
            guard redisGetReply(context, &raw) == REDIS_OK, let raw else { throw failure(in: command.label) }
            let reply = raw.assumingMemoryBound(to: redisReply.self)
            replies.append(RedisReply(reply))
            freeReplyObject(reply)
        }
        return replies
    }

    /// Closes the socket; later calls throw a connection error.
    public func close() {
        if let context { redisFree(context) }
        context = nil
    }

    /// Builds the error for a failed C call and closes the context, which hiredis leaves unusable.
    private func failure(in command: String) -> RedisError {
        guard let context else { return RedisError(.connection, "connection closed", command: command) }
        let code = spool_redis_err(context)
        var message = String(cString: spool_redis_errstr(context))
        close()
        if code == REDIS_ERR_IO, message.contains("temporarily unavailable") || message.contains("timed out") {
            return RedisError(.timeout, "no reply from \(url) within the command timeout", command: command)
        }
        if code == REDIS_ERR_PROTOCOL { return RedisError(.protocolViolation, message, command: command) }
        if message.isEmpty { message = "connection lost" }
        return RedisError(.connection, "\(url): \(message)", command: command)
    }
}

private func timeval(_ duration: Duration) -> timeval {
    let (seconds, attoseconds) = duration.components
    return Glibc.timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
}
