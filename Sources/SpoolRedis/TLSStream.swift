import COpenSSL
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// TLS over a connected socket, for `rediss` URLs: OpenSSL encrypts the bytes, hiredis still parses
/// the replies (hiredis 0.14 has no TLS of its own; `RedisConnection` feeds its reader from here).
///
/// The socket stays blocking with hiredis's send and receive timeouts, so a read that times out comes
/// back as `SSL_ERROR_WANT_READ` and is reported as the command timeout, as on a plain connection.
final class TLSStream {
    private var ssl: OpaquePointer?

    /// Wraps `fd` (already connected to `host`) and completes the handshake, verifying the server's
    /// certificate chain and that it names `host`. Throws a connection error saying what failed.
    init(fd: Int32, host: String, tls: RedisTLS) throws(RedisError) {
        let context = try TLSContexts.shared.context(for: tls)
        guard let ssl = SSL_new(context) else { throw TLSStream.error("cannot create a TLS session") }
        self.ssl = ssl
        var address = in6_addr()
        let isAddress = inet_pton(AF_INET, host, &address) == 1 || inet_pton(AF_INET6, host, &address) == 1
        if isAddress {
            // An IP address is matched against the certificate's IP addresses, and sent as no server name.
            guard X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) == 1 else { throw TLSStream.error("bad address \(host)") }
        } else {
            guard SSL_set1_host(ssl, host) == 1, spool_ssl_set_server_name(ssl, host) == 1 else {
                throw TLSStream.error("cannot set the server name \(host)")
            }
        }
        guard SSL_set_fd(ssl, fd) == 1 else { throw TLSStream.error("cannot attach the socket") }
        let result = SSL_connect(ssl)
        if result != 1 {
            let verify = SSL_get_verify_result(ssl)
            if verify != X509_V_OK {
                let why = String(cString: X509_verify_cert_error_string(verify))
                throw RedisError(.connection, "the TLS handshake with \(host) failed: the server's certificate was refused: \(why)")
            }
            throw TLSStream.error("the TLS handshake with \(host) failed", ssl: ssl, result: result)
        }
    }

    deinit { close() }

    /// Writes all of `bytes`.
    func write(_ bytes: [UInt8]) throws(RedisError) {
        guard let ssl else { throw RedisError(.connection, "the TLS connection is closed") }
        var offset = 0
        while offset < bytes.count {
            var written = 0
            let result = bytes.withUnsafeBytes { buffer in
                SSL_write_ex(ssl, buffer.baseAddress! + offset, buffer.count - offset, &written)
            }
            guard result == 1 else { throw TLSStream.error("writing to Redis failed", ssl: ssl, result: result) }
            offset += written
        }
    }

    /// Reads what has arrived (at least one byte) into `buffer`; returns the count.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(RedisError) -> Int {
        guard let ssl else { throw RedisError(.connection, "the TLS connection is closed") }
        var count = 0
        let result = SSL_read_ex(ssl, buffer.baseAddress, buffer.count, &count)
        guard result == 1 else { throw TLSStream.error("reading from Redis failed", ssl: ssl, result: result) }
        return count
    }

    /// Ends the session without waiting for the server's answer; the owner closes the socket.
    func close() {
        guard let ssl else { return }
        SSL_free(ssl)
        self.ssl = nil
    }

    /// The error for a failed call: the command timeout, a closed connection, or OpenSSL's reason.
    private static func error(_ what: String, ssl: OpaquePointer? = nil, result: Int32 = 0) -> RedisError {
        if let ssl {
            switch SSL_get_error(ssl, result) {
            case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
                ERR_clear_error()
                return RedisError(.timeout, "no reply within the command timeout (TLS)")
            case SSL_ERROR_ZERO_RETURN:
                return RedisError(.connection, "\(what): the server closed the TLS connection")
            case SSL_ERROR_SYSCALL where ERR_peek_error() == 0:
                let code = errno
                if code == EAGAIN || code == EWOULDBLOCK { return RedisError(.timeout, "no reply within the command timeout (TLS)") }
                return RedisError(.connection, "\(what): \(code == 0 ? "connection closed" : String(cString: strerror(code)))")
            default: break
            }
        }
        return RedisError(.connection, "\(what): \(openSSLErrors())")
    }

    /// OpenSSL's queued errors as text (and the queue emptied, so that the next call starts clean).
    static func openSSLErrors() -> String {
        var reasons: [String] = []
        while case let code = ERR_get_error(), code != 0 {
            var text = [UInt8](repeating: 0, count: 256)
            text.withUnsafeMutableBufferPointer { buffer in
                buffer.withMemoryRebound(to: CChar.self) { ERR_error_string_n(code, $0.baseAddress, $0.count) }
            }
            reasons.append(String(decoding: text.prefix { $0 != 0 }, as: UTF8.self))
        }
        return reasons.isEmpty ? "no reason given" : reasons.joined(separator: "; ")
    }
}

/// One OpenSSL context per TLS configuration, shared by every connection that uses it: loading the CA
/// file and the client certificate once, not per connection.
final class TLSContexts: Sendable {
    static let shared = TLSContexts()

    private struct Entry: @unchecked Sendable {
        let context: OpaquePointer
    }
    private let contexts = Mutex<[RedisTLS: Entry]>([:])

    func context(for tls: RedisTLS) throws(RedisError) -> OpaquePointer {
        let result: Result<OpaquePointer, RedisError> = contexts.withLock { contexts in
            if let entry = contexts[tls] { return .success(entry.context) }
            do throws(RedisError) {
                let context = try Self.make(tls)
                contexts[tls] = Entry(context: context)
                return .success(context)
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    private static func make(_ tls: RedisTLS) throws(RedisError) -> OpaquePointer {
        func refused(_ what: String) -> RedisError {
            RedisError(.configuration, "\(what): \(TLSStream.openSSLErrors())")
        }
        guard let context = SSL_CTX_new(TLS_client_method()) else { throw refused("cannot create a TLS context") }
        _ = spool_ssl_ctx_set_min_tls12(context)
        SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
        if let ca = tls.caFile {
            guard SSL_CTX_load_verify_locations(context, ca, nil) == 1 else {
                SSL_CTX_free(context)
                throw refused("SPOOL_REDIS_TLS_CA '\(ca)' is not a readable PEM file of CA certificates")
            }
        } else if SSL_CTX_set_default_verify_paths(context) != 1 {
            SSL_CTX_free(context)
            throw refused("cannot load the system's trust store")
        }
        if let certificate = tls.certificateFile, let key = tls.keyFile {
            guard SSL_CTX_use_certificate_chain_file(context, certificate) == 1 else {
                SSL_CTX_free(context)
                throw refused("SPOOL_REDIS_TLS_CERT '\(certificate)' is not a readable PEM certificate")
            }
            guard SSL_CTX_use_PrivateKey_file(context, key, SSL_FILETYPE_PEM) == 1, SSL_CTX_check_private_key(context) == 1 else {
                SSL_CTX_free(context)
                throw refused("SPOOL_REDIS_TLS_KEY '\(key)' is not a readable PEM key of that certificate")
            }
        }
        return context
    }
}
