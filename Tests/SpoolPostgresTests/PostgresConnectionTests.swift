import SpoolPostgres
import SpoolSupport
import TestSupport
import Testing

@Suite struct PostgresConnectionTests {
    @Test func parametersAndTypedRowsRoundTrip() throws {
        let db = try PostgresConnection(url: TestPostgres.freshDatabase())
        try db.execute("CREATE TABLE t (id bigint PRIMARY KEY, name text, score double precision, ok boolean, note text)")
        try db.query("INSERT INTO t VALUES ($1, $2, $3, $4, $5)", [1, "Zoë 'quoted'; DROP TABLE t; --", 2.5, true, PostgresNull()])
        try db.query("INSERT INTO t VALUES ($1, $2, $3, $4, $5)", [2, "tab\there", -0.25, false, "x"])
        let rows = try db.query("SELECT * FROM t ORDER BY id").rows
        #expect(rows.count == 2)
        #expect(try rows[0].int("id") == 1)
        #expect(try rows[0].string("name") == "Zoë 'quoted'; DROP TABLE t; --")
        #expect(try rows[0].double("score") == 2.5)
        #expect(try rows[0].bool("ok") == true)
        #expect(try rows[0].string("note") == nil)
        #expect(try rows[1].bool("ok") == false)
        #expect(try db.query("UPDATE t SET note = $1", ["y"]).affectedRows == 2)
    }

    @Test func errorsCarrySQLStateMessageAndStatementButNoParameters() throws {
        let db = try PostgresConnection(url: TestPostgres.freshDatabase())
        try db.execute("CREATE TABLE u (email text UNIQUE)")
        try db.query("INSERT INTO u VALUES ($1)", ["secret@example.com"])
        #expect {
            try db.query("INSERT INTO u VALUES ($1)", ["secret@example.com"])
        } throws: { error in
            let error = error as! PostgresError
            return error.isUniqueViolation && error.query == "INSERT INTO u VALUES ($1)"
                && error.message.contains("duplicate key") && !"\(error)".contains("secret@example.com")
                && "\(error)".contains("parameters redacted")
        }
        // The connection stays usable after a statement error.
        #expect(try db.query("SELECT 1 AS one").first?.int("one") == 1)
        #expect {
            try db.query("SELECT nope FROM u")
        } throws: { error in
            (error as! PostgresError).sqlState == "42703"
        }
    }

    @Test func decodingErrorsNameTheColumn() throws {
        let db = try PostgresConnection(url: TestPostgres.freshDatabase())
        let row = try db.query("SELECT 'abc'::text AS code").first!
        #expect {
            try row.int("code")
        } throws: { error in
            "\(error)".contains("column 'code': 'abc' is not a integer")
        }
        #expect {
            try row.int("missing")
        } throws: { error in
            "\(error)".contains("no column 'missing'")
        }
    }

    @Test func arrayParametersCarryAnyTextAndNullsThroughUnnest() throws {
        let db = try PostgresConnection(url: TestPostgres.freshDatabase())
        let values: [String?] = [
            "plain", #"quote " and \ backslash"#, "{braces},commas", "NULL", nil, "", " spaced ", "Zoë ✓", #"{"json": "\"x\""}"#,
        ]
        let rows = try db.query(
            "SELECT ordinality AS n, v FROM unnest($1::text[]) WITH ORDINALITY AS u(v, ordinality) ORDER BY n", [PostgresArray(values)]
        ).rows
        #expect(try rows.map { try $0.string("v") } == values)
        #expect(try db.query("SELECT cardinality($1::text[]) AS n", [PostgresArray([String]())]).first?.int("n") == 0)
    }

    @Test func copyLoadsRowsWithEscapesAndNulls() throws {
        let db = try PostgresConnection(url: TestPostgres.freshDatabase())
        try db.execute("CREATE TABLE c (n int, s text)")
        let rows: [[String?]] = (0..<10_000).map { [String($0), $0 % 3 == 0 ? nil : "v\\\($0)\t\n\r"] }
        #expect(try db.copy(into: "c", columns: ["n", "s"], rows: rows) == 10_000)
        #expect(try db.query("SELECT count(*) AS n FROM c").first?.int("n") == 10_000)
        #expect(try db.query("SELECT count(*) AS n FROM c WHERE s IS NULL").first?.int("n") == 3_334)
        #expect(try db.query("SELECT s FROM c WHERE n = 1").first?.string("s") == "v\\1\t\n\r")
    }

    @Test func aBadCopyRowFailsTheWholeCopyClearly() throws {
        let db = try PostgresConnection(url: TestPostgres.freshDatabase())
        try db.execute("CREATE TABLE c (n int)")
        #expect {
            try db.copy(into: "c", columns: ["n"], rows: [["1"], ["two"]])
        } throws: { error in
            // The offending value came from the caller's data: it is cut from the message.
            (error as! PostgresError).sqlState == "22P02" && !"\(error)".contains("two") && "\(error)".contains("value redacted")
        }
        #expect(try db.query("SELECT count(*) AS n FROM c").first?.int("n") == 0)
    }

    @Test func badURLsSayWhatIsWrong() throws {
        func problem(_ text: String) -> String? {
            do { _ = try PostgresURL(parsing: text); return nil } catch { return "\(error)" }
        }
        #expect(problem("mysql://x/db")?.contains("scheme must be postgres://") == true)
        #expect(problem("postgres://u:hunter2@host/")?.contains("the database name is missing") == true)
        let port = problem("postgres://u:hunter2@host:99999/db")
        #expect(port?.contains("port '99999'") == true && port?.contains("hunter2") == false)
        #expect(try PostgresURL(parsing: "postgres://u:pw@db.internal:6543/app?sslmode=require").port == 6543)
        #expect(
            try PostgresURL(parsing: "postgres://u@h/db?sslmode=require&password=hunter2").description
                == "postgres://u@h/db?sslmode=require&password=***")
        #expect(problem("postgres://u:hunter2")?.contains("hunter2") == false)
        #expect(try PostgresURL(parsing: "postgres://spool@[::1]:5432/spool").description == "postgres://spool@[::1]:5432/spool")
        #expect(try PostgresURL(parsing: "postgres://[::1]:5432/spool").description == "postgres://[::1]:5432/spool")
    }

    @Test func statementTimeoutStopsALongQuery() throws {
        let db = try PostgresConnection(url: TestPostgres.freshDatabase(), statementTimeout: .milliseconds(200))
        #expect {
            try db.query("SELECT pg_sleep(5)")
        } throws: { error in
            (error as! PostgresError).sqlState == "57014"
        }
    }
}
