import CLibpq

#if canImport(Glibc)
    import Glibc
#endif

/// A blocking connection to PostgreSQL that owns one libpq `PGconn`.
///
/// Not thread safe: one thread uses a connection at a time (`PostgresPool` gives each its own thread,
/// so blocking libpq calls never run on Swift's cooperative pool).
public final class PostgresConnection {
    public let url: PostgresURL
    private var connection: OpaquePointer?

    /// Connects with a connect timeout, and sets the statement timeout for every statement on it.
    /// Needs PostgreSQL 14 or later (client_connection_check_interval).
    public init(url: PostgresURL, connectTimeout: Duration = .seconds(5), statementTimeout: Duration = .seconds(30)) throws(PostgresError) {
        self.url = url
        let seconds = max(1, connectTimeout.components.seconds)
        let separator = url.text.contains("?") ? "&" : "?"
        // client_connection_check_interval: a backend whose client died (a SIGKILLed worker) notices
        // within a second even while it waits on a lock, and lets go of the rows it holds, instead of
        // keeping them locked until the statement times out.
        let options =
            "-c%20statement_timeout%3D\(statementTimeout.components.seconds * 1000 + statementTimeout.components.attoseconds / 1_000_000_000_000_000)"
            + "%20-c%20client_connection_check_interval%3D1000"
        let conninfo = "\(url.text)\(separator)connect_timeout=\(seconds)&application_name=spool&options=\(options)"
        guard let handle = PQconnectdb(conninfo) else { throw PostgresError(.connection, "libpq could not allocate a connection") }
        connection = handle
        guard PQstatus(handle) == CONNECTION_OK else {
            let message = url.scrub(Self.message(handle))
            PQfinish(handle)
            connection = nil
            throw PostgresError(.connection, "cannot connect to \(url): \(message)")
        }
        // libpq prints server NOTICEs ("relation already exists, skipping") to stderr by default.
        PQsetNoticeProcessor(handle, { _, _ in }, nil)
    }

    deinit { close() }

    public func close() {
        if let connection { PQfinish(connection) }
        connection = nil
    }

    /// False once the connection broke; the pool then replaces it.
    public var isHealthy: Bool {
        guard let connection else { return false }
        return PQstatus(connection) == CONNECTION_OK
    }

    /// Runs one statement with parameters ($1, $2 ...) and returns its rows.
    @discardableResult
    public func query(_ sql: String, _ parameters: [any PostgresBindable] = []) throws(PostgresError) -> PostgresResult {
        guard let connection else { throw PostgresError(.connection, "connection to \(url) is closed", query: sql) }
        let texts = parameters.map(\.postgresText)
        // libpq takes parameters as C strings: a NUL byte would silently cut the value short. Refused
        // instead, as PostgreSQL refuses NUL in text (22021), so callers see bad input, not truncation.
        if let index = texts.firstIndex(where: { $0?.utf8.contains(0) == true }) {
            throw PostgresError(
                .server, "parameter $\(index + 1) contains a NUL byte, which text cannot hold", sqlState: "22021", query: sql)
        }
        let result: OpaquePointer? = withCStrings(texts) { pointers in
            PQexecParams(connection, sql, Int32(texts.count), nil, pointers, nil, nil, 0)
        }
        return try consume(result, sql: sql)
    }

    /// Runs statements that take no parameters (DDL, migrations), several separated by semicolons allowed.
    public func execute(_ sql: String) throws(PostgresError) {
        guard let connection else { throw PostgresError(.connection, "connection to \(url) is closed", query: sql) }
        _ = try consume(PQexec(connection, sql), sql: sql)
    }

    /// Bulk load with COPY FROM STDIN in text format: one row per array, NULL as nil.
    /// - Returns: the number of rows the server loaded.
    @discardableResult
    public func copy(into table: String, columns: [String], rows: some Sequence<[String?]>) throws(PostgresError) -> Int {
        guard let connection else { throw PostgresError(.connection, "connection to \(url) is closed") }
        let sql = "COPY \(table) (\(columns.joined(separator: ", "))) FROM STDIN"
        let start = PQexec(connection, sql)
        guard PQresultStatus(start) == PGRES_COPY_IN else { _ = try consume(start, sql: sql); return 0 }
        PQclear(start)
        var buffer: [UInt8] = []
        buffer.reserveCapacity(1 << 16)
        func flush() -> Bool {
            if buffer.isEmpty { return true }
            let sent = buffer.withUnsafeBufferPointer { bytes in
                bytes.withMemoryRebound(to: CChar.self) { PQputCopyData(connection, $0.baseAddress, Int32($0.count)) }
            }
            buffer.removeAll(keepingCapacity: true)
            return sent == 1
        }
        for row in rows {
            for (index, value) in row.enumerated() {
                if index > 0 { buffer.append(9) }
                if let value { Self.appendCopyEscaped(value, to: &buffer) } else { buffer.append(contentsOf: [92, 78]) }  // \N
            }
            buffer.append(10)
            if buffer.count >= 1 << 16, !flush() { break }
        }
        let ended = flush() && PQputCopyEnd(connection, nil) == 1
        if !ended { throw PostgresError(.connection, "COPY into \(table) failed: \(Self.message(connection))", query: sql) }
        var loaded = 0
        while let result = PQgetResult(connection) {
            loaded += try consume(result, sql: sql).affectedRows
        }
        return loaded
    }

    /// COPY text format: backslash, tab, newline and carriage return are escaped; NUL, which PostgreSQL
    /// text cannot hold at all, is dropped.
    static func appendCopyEscaped(_ value: String, to buffer: inout [UInt8]) {
        for byte in value.utf8 {
            switch byte {
            case 0: continue
            case 92: buffer.append(92); buffer.append(92)
            case 9: buffer.append(92); buffer.append(116)
            case 10: buffer.append(92); buffer.append(110)
            case 13: buffer.append(92); buffer.append(114)
            default: buffer.append(byte)
            }
        }
    }

    /// Turns a result into rows or an error, and frees it.
    private func consume(_ result: OpaquePointer?, sql: String) throws(PostgresError) -> PostgresResult {
        guard let result else {
            throw PostgresError(.connection, connection.map(Self.message) ?? "no result", query: sql)
        }
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_TUPLES_OK, PGRES_SINGLE_TUPLE:
            let columnCount = Int(PQnfields(result))
            let columns = PostgresColumns((0..<columnCount).map { String(cString: PQfname(result, Int32($0))) })
            let rowCount = Int(PQntuples(result))
            var rows: [PostgresRow] = []
            rows.reserveCapacity(rowCount)
            for row in 0..<rowCount {
                var values: [String?] = []
                values.reserveCapacity(columnCount)
                for column in 0..<columnCount {
                    if PQgetisnull(result, Int32(row), Int32(column)) == 1 {
                        values.append(nil)
                    } else {
                        let length = Int(PQgetlength(result, Int32(row), Int32(column)))
                        let bytes = UnsafeRawBufferPointer(start: PQgetvalue(result, Int32(row), Int32(column)), count: length)
                        values.append(String(decoding: bytes, as: UTF8.self))
                    }
                }
                rows.append(PostgresRow(columns: columns, values: values))
            }
            return PostgresResult(rows: rows, affectedRows: rowCount)
        case PGRES_COMMAND_OK, PGRES_EMPTY_QUERY:
            let tuples = String(cString: PQcmdTuples(result))
            return PostgresResult(rows: [], affectedRows: Int(tuples) ?? 0)
        default:
            let sqlState = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
            var message =
                PQresultErrorField(result, Int32(UInt8(ascii: "M"))).map { String(cString: $0) }
                ?? String(cString: PQresultErrorMessage(result))
            // DETAIL is left out on purpose: it repeats row values ("Key (email)=(...) already exists").
            if let constraint = PQresultErrorField(result, Int32(UInt8(ascii: "n"))) {
                message += " (constraint \(String(cString: constraint)))"
            }
            let broken = connection.map { PQstatus($0) != CONNECTION_OK } ?? true
            throw PostgresError(
                broken ? .connection : .server, Self.withoutQuotedValue(message.trimmingTrailingNewlines), sqlState: sqlState, query: sql)
        }
    }

    /// Server messages end with the offending value (`invalid input syntax for type integer: "two"`);
    /// that value came from a parameter, so it is cut.
    static func withoutQuotedValue(_ message: String) -> String {
        guard message.hasSuffix("\""), let range = message.ranges(of: ": \"").first else { return message }
        return String(message[..<range.lowerBound]) + ": (value redacted)"
    }

    private static func message(_ connection: OpaquePointer) -> String {
        String(cString: PQerrorMessage(connection)).trimmingTrailingNewlines
    }
}

/// Calls `body` with a C array of C strings (NULL for nil) that lives as long as the call.
private func withCStrings<R>(_ values: [String?], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
    var storage: [UnsafeMutablePointer<CChar>?] = values.map { $0.map { strdup($0) } ?? nil }
    defer { for pointer in storage { free(pointer) } }
    return body(storage.map { UnsafePointer($0) })
}

extension String {
    var trimmingTrailingNewlines: String {
        var text = self
        while text.last == "\n" || text.last == " " { text.removeLast() }
        return text
    }
}
