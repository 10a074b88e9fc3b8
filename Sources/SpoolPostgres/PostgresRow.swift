/// One row of a result, in text format, with typed accessors. A NULL reads as nil; a value that does
/// not parse as the type asked for throws, naming the column and the value.
public struct PostgresRow: Sendable {
    let columns: PostgresColumns
    public let values: [String?]

    public subscript(_ column: String) -> String? {
        guard let index = columns.index[column] else { return nil }
        return values[index]
    }

    public func string(_ column: String) throws(PostgresError) -> String? {
        try raw(column)
    }

    public func int(_ column: String) throws(PostgresError) -> Int? {
        try typed(column, "integer") { Int($0) }
    }

    public func double(_ column: String) throws(PostgresError) -> Double? {
        try typed(column, "number") { Double($0) }
    }

    public func bool(_ column: String) throws(PostgresError) -> Bool? {
        try typed(column, "boolean") { $0 == "t" ? true : $0 == "f" ? false : nil }
    }

    private func raw(_ column: String) throws(PostgresError) -> String? {
        guard let index = columns.index[column] else {
            throw PostgresError(.decoding, "no column '\(column)' in the result (columns: \(columns.names.joined(separator: ", ")))")
        }
        return values[index]
    }

    private func typed<T>(_ column: String, _ type: String, _ parse: (String) -> T?) throws(PostgresError) -> T? {
        guard let text = try raw(column) else { return nil }
        guard let value = parse(text) else { throw PostgresError(.decoding, "column '\(column)': '\(text.prefix(40))' is not a \(type)") }
        return value
    }
}

/// Column names of a result, shared by its rows.
final class PostgresColumns: Sendable {
    let names: [String]
    let index: [String: Int]
    init(_ names: [String]) {
        self.names = names
        var index: [String: Int] = [:]
        for (offset, name) in names.enumerated() where index[name] == nil { index[name] = offset }
        self.index = index
    }
}

/// A statement's result: its rows, and how many rows a command touched.
public struct PostgresResult: Sendable {
    public let rows: [PostgresRow]
    public let affectedRows: Int
    public var first: PostgresRow? { rows.first }
}
