/// Why a schedule (a cron expression, an `every` interval or a zone name) was refused: what is wrong
/// and where, as `hour: 25 is out of range 0-23 (column 3 of "0 25 * * *")`.
public struct ScheduleError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The part at fault: a cron field (`second`, `minute`, `hour`, `day of month`, `month`,
    /// `day of week`), `every` or `zone`; nil when it is the expression as a whole.
    public let field: String?
    /// The text at fault: a list item, a name, a number, or the whole expression.
    public let text: String
    /// Where `text` starts in `expression`: a 1-based character column, when it is part of it.
    public let column: Int?
    /// What was parsed, as given.
    public let expression: String
    /// What is wrong, in words (`25 is out of range 0-23`).
    public let problem: String

    public init(field: String?, text: String, column: Int? = nil, expression: String, problem: String) {
        self.field = field
        self.text = text
        self.column = column
        self.expression = expression
        self.problem = problem
    }

    public var description: String {
        var message = field.map { "\($0): \(problem)" } ?? problem
        if let column { message += " (column \(column) of \"\(expression)\")" }
        return message
    }
}
