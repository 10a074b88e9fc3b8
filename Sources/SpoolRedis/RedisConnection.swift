import CHiredis

#if canImport(Glibc)
    import Glibc
#endif

/// A blocking connection to Redis that owns one hiredis context.
///
/// Over TLS (`rediss`), hiredis still connects the socket and parses the replies, and `TLSStream`
/// carries the bytes: commands are written through OpenSSL and what it decrypts is fed to the
/// context's reader.
///
/// Not thread safe: exactly one thread uses a connection (see `RedisClient`, which gives each
/// connection a thread of its own so that blocking I/O never runs on Swift's cooperative pool).
public final class RedisConnection {
    public let url: RedisURL
    private var context: UnsafeMutablePointer<redisContext>?
    private var tlsStream: TLSStream?
    /// Where TLS reads land before they are fed to hiredis's reader (hiredis reads 16 KB at a time too).
    private var readBuffer: UnsafeMutableRawBufferPointer?

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
        _ = Self.ignoreBrokenPipes
        if let tls = url.tls {
            do throws(RedisError) {
                tlsStream = try TLSStream(fd: context.pointee.fd, host: url.host, tls: tls)
            } catch {
                close()
                throw error
            }
            readBuffer = .allocate(byteCount: 16 * 1024, alignment: 8)
        }
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
        close()
        readBuffer?.deallocate()
    }

    /// A write to a socket the server closed raises SIGPIPE, which would end the process; ignored, the
    /// write fails with EPIPE instead and the connection error is handled like any other.
    private static let ignoreBrokenPipes: Void = { _ = signal(SIGPIPE, SIG_IGN) }()

    /// Runs one command and waits for its reply. An error reply is returned, not thrown.
    public func run(_ command: RedisCommand) throws -> RedisReply {
        try pipeline([command])[0]
    }

    /// Writes all commands, then reads their replies in order: one round trip for the lot.
    /// Error replies are returned in place; a broken connection throws and the connection is unusable.
    public func pipeline(_ commands: [RedisCommand]) throws -> [RedisReply] {
        guard let context else { throw RedisError(.connection, "connection to \(url) is closed") }
        if let tlsStream { return try pipeline(commands, over: tlsStream, context: context) }
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

    /// The same over TLS: one write of every frame, then replies parsed as the decrypted bytes arrive.
    private func pipeline(
        _ commands: [RedisCommand], over stream: TLSStream, context: UnsafeMutablePointer<redisContext>
    ) throws -> [RedisReply] {
        var frames: [UInt8] = []
        for command in commands { frames.append(contentsOf: command.encoded()) }
        do throws(RedisError) {
            try stream.write(frames)
        } catch {
            close()
            throw RedisError(error.code, "\(url): \(error.message)", command: commands.first?.label)
        }
        var replies: [RedisReply] = []
        replies.reserveCapacity(commands.count)
        for command in commands {
            var raw: UnsafeMutableRawPointer?
            while true {
                guard redisGetReplyFromReader(context, &raw) == REDIS_OK else { throw failure(in: command.label) }
                if raw != nil { break }
                let count: Int
                do throws(RedisError) {
                    count = try stream.read(into: readBuffer!)
                } catch {
                    close()
                    throw RedisError(error.code, "\(url): \(error.message)", command: command.label)
                }
                _ = redisReaderFeed(context.pointee.reader, readBuffer!.baseAddress!.assumingMemoryBound(to: CChar.self), count)
            }
            let reply = raw!.assumingMemoryBound(to: redisReply.self)
            replies.append(RedisReply(reply))
            freeReplyObject(reply)
        }
        return replies
    }

    /// Closes the socket; later calls throw a connection error.
    public func close() {
        tlsStream?.close()
        tlsStream = nil
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
