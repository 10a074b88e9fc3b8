/// Where a value that a script passes as a key comes from.
enum KeyOrigin: Hashable, Sendable, CustomStringConvertible {
    /// `KEYS[n]` itself.
    case declared(Int)
    /// `KEYS[n]` with text appended: same tag, same slot, but a key Redis was not told about.
    case extended(Int)
    /// Anything else: ARGV, a reply, a literal, a loop variable, an expression the check does not follow.
    case other

    /// The origin of this value with text appended.
    var appended: KeyOrigin {
        switch self {
        case .declared(let index), .extended(let index): return .extended(index)
        case .other: return .other
        }
    }

    var description: String {
        switch self {
        case .declared(let index): return "KEYS[\(index)]"
        case .extended(let index): return "KEYS[\(index)] .. <suffix>"
        case .other: return "other"
        }
    }
}

/// What an expression may hold, over every path through the script: as a string, and, as a table,
/// its positional elements (what `unpack` spreads).
struct KeyValue: Hashable, Sendable {
    var origins: Set<KeyOrigin> = []
    var elements: Set<KeyOrigin> = []

    static let unknown = KeyValue(origins: [.other], elements: [.other])

    mutating func merge(_ value: KeyValue) {
        origins.formUnion(value.origins)
        elements.formUnion(value.elements)
    }

    func merged(_ value: KeyValue) -> KeyValue {
        var copy = self
        copy.merge(value)
        return copy
    }
}

struct KeyProblem: Hashable, Sendable, CustomStringConvertible {
    /// The line in the checked source, or 0 when the problem is not tied to one.
    let line: Int
    let message: String
    var description: String { line > 0 ? "line \(line): \(message)" : message }
}

/// The static check of the key contract (docs/architecture.md, "Keys and slots"): every key a script
/// passes to `redis.call` or `redis.pcall` is derived from KEYS. "Derived" means exactly one of:
///
/// - `KEYS[n]`, n a number literal;
/// - a local, a parameter or a table element to which only derived values are ever assigned: a name's
///   value is everything assigned to it anywhere in its function, regardless of order or scope, and a
///   table's elements are everything its constructors, `t[k] = v` and `table.insert` put in it, or
///   unknown once the table is used as a plain value (it may have been aliased and filled elsewhere);
/// - `unpack(t)` of such a table, for commands whose every argument is a key;
/// - what a local function returns, checked with the values of each call's arguments (the helpers of
///   lanes.lua are followed into, with the caller's KEYS);
/// - `KEYS[n] .. <anything>`, only for the n the script's exceptions list (ScriptKeyExceptions): the
///   appended text cannot move the key out of KEYS[n]'s tag, which KEYS[n] already closes.
///
/// Anything else is a problem: a key read from ARGV or from a reply, `KEYS[i]` with a computed i, a
/// command not written as a literal, `redis.call` or a helper used as a value (it could then be called
/// where the check cannot see), and a command missing from the table of key positions below.
final class ScriptKeyChecker {
    /// Commands whose first argument is their only key (COMMAND INFO's key specs), for the commands
    /// Spool's scripts use. A script that calls another command fails until it is added to a table.
    static let firstArgumentKey: Set<String> = [
        "GET", "SET", "INCRBY", "DECRBY", "EXPIRE", "PEXPIRE", "PEXPIREAT", "PTTL", "TTL",
        "HGET", "HSET", "HDEL", "HMGET", "HINCRBY", "HGETALL", "HEXISTS", "HLEN",
        "LPUSH", "RPUSH", "LPOP", "RPOP", "LLEN", "LPOS", "LINDEX", "LREM", "LRANGE",
        "SADD", "SREM", "SISMEMBER", "SMEMBERS", "SCARD",
        "ZADD", "ZREM", "ZSCORE", "ZCARD", "ZCOUNT", "ZRANGE", "ZRANGEBYSCORE", "ZREMRANGEBYSCORE",
    ]
    /// Commands whose first two arguments are keys.
    static let firstTwoArgumentsKeys: Set<String> = ["LMOVE", "RPOPLPUSH", "SMOVE"]
    /// Commands whose every argument is a key.
    static let everyArgumentKey: Set<String> = ["DEL", "UNLINK", "EXISTS", "TOUCH"]

    /// Functions that take a table as their first argument without keeping or aliasing it.
    private static let tableReaders: Set<String> = [
        "unpack", "ipairs", "pairs", "next", "rawget", "table.insert", "table.remove", "table.concat", "table.sort",
    ]

    struct Function {
        let parameters: [String]
        let body: [LuaStatement]
    }

    private struct Invocation: Hashable {
        let function: String
        let arguments: [KeyValue]
    }

    private struct Summary {
        var returned = KeyValue()
        var problems: [KeyProblem] = []
    }

    private let extensible: Set<Int>
    private var functions: [String: Function] = [:]
    private var duplicates: Set<String> = []
    private var summaries: [Invocation: Summary] = [:]
    private var running: Set<String> = []
    /// The extensible KEYS the script did extend.
    private var extendedKeys: Set<Int> = []

    private init(extensible: Set<Int>) { self.extensible = extensible }

    /// The problems of `source`, a whole script as Redis runs it, which may extend the KEYS in
    /// `extensible`; and which of those it did extend (an exception it no longer needs is stale).
    static func check(_ source: String, extensible: Set<Int>) throws -> (problems: [KeyProblem], extended: Set<Int>) {
        let chunk = try LuaParser.parse(source)
        let checker = ScriptKeyChecker(extensible: extensible)
        checker.register(chunk)
        var problems = checker.duplicates.sorted().map {
            KeyProblem(line: 0, message: "two functions are named \($0): name them apart, so that the check knows which one a call runs")
        }
        problems += checker.analyse(Function(parameters: [], body: chunk), arguments: []).problems
        return (problems, checker.extendedKeys)
    }

    // MARK: - Functions

    private func register(_ statements: [LuaStatement]) {
        for statement in statements {
            switch statement {
            case .localFunction(let name, let parameters, let body):
                define(name, Function(parameters: parameters, body: body))
                register(body)
            case .function(.name(let name), let parameters, let body):
                define(name, Function(parameters: parameters, body: body))
                register(body)
            case .function(_, _, let body), .whileLoop(_, let body), .repeatLoop(let body, _), .numericFor(_, _, let body),
                .genericFor(_, _, let body), .block(let body):
                register(body)
            case .conditional(let branches, let otherwise):
                for branch in branches { register(branch.body) }
                register(otherwise ?? [])
            default:
                continue
            }
        }
    }

    private func define(_ name: String, _ function: Function) {
        if functions[name] != nil { duplicates.insert(name) }
        functions[name] = function
    }

    /// A local function's result and problems for these argument values, each worked out once.
    private func invoke(_ name: String, _ arguments: [KeyValue]) -> Summary {
        let invocation = Invocation(function: name, arguments: arguments)
        if let summary = summaries[invocation] { return summary }
        guard let function = functions[name], !running.contains(name) else {
            return Summary(
                returned: .unknown, problems: [KeyProblem(line: 0, message: "\(name) calls itself: the check does not follow recursion")])
        }
        running.insert(name)
        let summary = analyse(function, arguments: arguments)
        running.remove(name)
        summaries[invocation] = summary
        return summary
    }

    /// Checks one function body (or the chunk) with its parameters bound to `arguments`.
    private func analyse(_ function: Function, arguments: [KeyValue]) -> Summary {
        var bindings = Bindings()
        for (position, parameter) in function.parameters.enumerated() {
            // A parameter without an argument is nil, which is never a key.
            let value = parameter == "..." ? KeyValue.unknown : position < arguments.count ? arguments[position] : KeyValue()
            bindings.fix(parameter, value)
        }
        bindings.gather(function.body)
        // Each bound name's value, grown until nothing changes: values only grow, over a few origins.
        let names = Set(bindings.assigned.keys).union(bindings.fixed.keys)
        var values = Dictionary(uniqueKeysWithValues: names.map { ($0, KeyValue()) })
        var changed = true
        while changed {
            changed = false
            for name in names {
                var value = bindings.fixed[name] ?? KeyValue()
                for expression in bindings.assigned[name] ?? [] { value.merge(evaluate(expression, values)) }
                for expression in bindings.elementWrites[name] ?? [] { value.elements.formUnion(evaluate(expression, values).origins) }
                if bindings.escaped.contains(name) { value.elements.insert(.other) }
                if values[name] != value {
                    values[name] = value
                    changed = true
                }
            }
        }
        var summary = Summary(problems: bindings.problems)
        for expression in bindings.returns { summary.returned.merge(evaluate(expression, values)) }
        inspect(function.body, values, &summary.problems)
        return summary
    }

    // MARK: - Values

    private func evaluate(_ expression: LuaExpression, _ values: [String: KeyValue]) -> KeyValue {
        switch expression {
        case .index(.name("KEYS"), .number(let text)):
            guard let index = Int(text) else { return .unknown }
            return KeyValue(origins: [.declared(index)], elements: [.other])
        case .name(let name):
            return values[name] ?? .unknown
        case .binary("..", let left, _):
            // Lua's `..` is right associative: `KEYS[1] .. a .. b` is `KEYS[1] .. (a .. b)`.
            return KeyValue(origins: Set(evaluate(left, values).origins.map(\.appended)), elements: [.other])
        case .binary("or", let left, let right), .binary("and", let left, let right):
            return evaluate(left, values).merged(evaluate(right, values))
        case .call(.name("unpack"), let arguments, _):
            guard let table = arguments.first else { return .unknown }
            return KeyValue(origins: evaluate(table, values).elements, elements: [.other])
        case .call(.name(let name), let arguments, _) where functions[name] != nil:
            return invoke(name, arguments.map { evaluate($0, values) }).returned
        case .table(let items, _):
            var elements: Set<KeyOrigin> = []
            for item in items { elements.formUnion(evaluate(item, values).origins) }
            return KeyValue(origins: [.other], elements: elements)
        case .constant("nil"), .constant("false"):
            // Never a key: Redis refuses the argument before it looks at any key.
            return KeyValue()
        default:
            return .unknown
        }
    }

    // MARK: - Calls

    private func inspect(_ statements: [LuaStatement], _ values: [String: KeyValue], _ problems: inout [KeyProblem]) {
        for statement in statements {
            switch statement {
            case .local(_, let expressions), .returns(let expressions):
                for expression in expressions { inspect(expression, values, &problems) }
            case .assignment(let targets, let expressions):
                for expression in targets + expressions { inspect(expression, values, &problems) }
            case .call(let expression):
                inspect(expression, values, &problems)
            case .conditional(let branches, let otherwise):
                for branch in branches {
                    inspect(branch.condition, values, &problems)
                    inspect(branch.body, values, &problems)
                }
                inspect(otherwise ?? [], values, &problems)
            case .whileLoop(let condition, let body), .repeatLoop(let body, let condition):
                inspect(condition, values, &problems)
                inspect(body, values, &problems)
            case .numericFor(_, let expressions, let body), .genericFor(_, let expressions, let body):
                for expression in expressions { inspect(expression, values, &problems) }
                inspect(body, values, &problems)
            case .block(let body):
                inspect(body, values, &problems)
            case .localFunction, .function, .breakLoop:
                // A function is checked where it is called, with its arguments.
                continue
            }
        }
    }

    private func inspect(_ expression: LuaExpression, _ values: [String: KeyValue], _ problems: inout [KeyProblem]) {
        switch expression {
        case .call(let callee, let arguments, let line):
            if case .index(.name("redis"), .string(let member)) = callee, member == "call" || member == "pcall" {
                checkRedisCall(arguments, line: line, values, &problems)
            } else if case .name(let name) = callee, functions[name] != nil {
                let summary = invoke(name, arguments.map { evaluate($0, values) })
                problems += summary.problems.map { KeyProblem(line: $0.line, message: "\($0.message) (in \(name), called on line \(line))") }
            } else {
                inspect(callee, values, &problems)
            }
            for argument in arguments { inspect(argument, values, &problems) }
        case .index(.name("redis"), .string(let member)):
            if member == "call" || member == "pcall" {
                problems.append(KeyProblem(line: 0, message: "redis.\(member) is used as a value: write each call out, so that its keys are checked"))
            }
        case .name(let name):
            if name == "redis" {
                problems.append(KeyProblem(line: 0, message: "redis is used as a value: write each redis.call out, so that its keys are checked"))
            } else if functions[name] != nil {
                problems.append(KeyProblem(line: 0, message: "\(name) is used as a value: call it by its name, so that the check follows it"))
            }
        case .index(let base, let key):
            inspect(base, values, &problems)
            inspect(key, values, &problems)
        case .binary(_, let left, let right):
            inspect(left, values, &problems)
            inspect(right, values, &problems)
        case .unary(_, let operand):
            inspect(operand, values, &problems)
        case .table(let items, let fields):
            for item in items + fields { inspect(item, values, &problems) }
        case .function(_, let body):
            inspect(body, values, &problems)
        case .number, .string, .constant, .varargs:
            break
        }
    }

    private func checkRedisCall(_ arguments: [LuaExpression], line: Int, _ values: [String: KeyValue], _ problems: inout [KeyProblem]) {
        guard case .string(let name)? = arguments.first else {
            problems.append(KeyProblem(line: line, message: "the command is not written as a literal, so its keys cannot be told from its other arguments"))
            return
        }
        let command = name.uppercased()
        let positions: [Int]
        if Self.firstArgumentKey.contains(command) {
            positions = [1]
        } else if Self.firstTwoArgumentsKeys.contains(command) {
            positions = [1, 2]
        } else if Self.everyArgumentKey.contains(command) {
            positions = Array(1..<max(arguments.count, 1))
        } else {
            problems.append(
                KeyProblem(line: line, message: "\(command) is not in the check's table of key positions: add it, as COMMAND INFO \(command) gives them"))
            return
        }
        for position in positions {
            guard position < arguments.count else {
                problems.append(KeyProblem(line: line, message: "\(command) without its key"))
                continue
            }
            let key = arguments[position]
            for origin in evaluate(key, values).origins.sorted(by: { $0.description < $1.description }) {
                switch origin {
                case .declared:
                    continue
                case .extended(let index) where extensible.contains(index):
                    extendedKeys.insert(index)
                case .extended(let index):
                    problems.append(
                        KeyProblem(
                            line: line,
                            message:
                                "\(command) on \(Self.describe(key)): a key built from KEYS[\(index)], which this script may not extend: pass the key itself as a KEY"
                        ))
                case .other:
                    problems.append(
                        KeyProblem(line: line, message: "\(command) on \(Self.describe(key)), which is not one of KEYS nor built from one"))
                }
            }
        }
    }

    /// The expression, shortly, for a message.
    static func describe(_ expression: LuaExpression) -> String {
        switch expression {
        case .name(let name): return name
        case .number(let text): return text
        case .string(let text): return "'\(text)'"
        case .constant(let text): return text
        case .varargs: return "..."
        case .function: return "function"
        case .table: return "{...}"
        case .index(let base, .string(let field)): return describe(base) + "." + field
        case .index(let base, let key): return describe(base) + "[" + describe(key) + "]"
        case .call(let callee, let arguments, _): return describe(callee) + "(" + arguments.map { describe($0) }.joined(separator: ", ") + ")"
        case .binary(let op, let left, let right): return describe(left) + " " + op + " " + describe(right)
        case .unary(let op, let operand): return op + (op == "not" ? " " : "") + describe(operand)
        }
    }

    // MARK: - Bindings

    /// What one function body binds, gathered without regard to order or scope: a name's value is
    /// everything ever assigned to it there, which can only make the check stricter.
    private struct Bindings {
        /// Expressions assigned to each name (locals, assignments).
        var assigned: [String: [LuaExpression]] = [:]
        /// Values given without an expression: parameters, loop variables, extra results of a call.
        var fixed: [String: KeyValue] = [:]
        /// Expressions put into each table name: `t[k] = v`, `table.insert(t, v)`.
        var elementWrites: [String: [LuaExpression]] = [:]
        /// Names used as a plain value, which may alias a table and fill it out of sight.
        var escaped: Set<String> = []
        /// The first value of each `return`.
        var returns: [LuaExpression] = []
        var problems: [KeyProblem] = []

        mutating func fix(_ name: String, _ value: KeyValue) { fixed[name, default: KeyValue()].merge(value) }

        mutating func gather(_ statements: [LuaStatement]) {
            for statement in statements {
                switch statement {
                case .local(let names, let values):
                    bind(names.map { LuaExpression.name($0) }, to: values)
                case .assignment(let targets, let values):
                    bind(targets, to: values)
                case .call(let call):
                    use(call, asTable: false)
                case .conditional(let branches, let otherwise):
                    for branch in branches {
                        use(branch.condition, asTable: false)
                        gather(branch.body)
                    }
                    gather(otherwise ?? [])
                case .whileLoop(let condition, let body), .repeatLoop(let body, let condition):
                    use(condition, asTable: false)
                    gather(body)
                case .numericFor(let name, let bounds, let body):
                    fix(name, .unknown)
                    for bound in bounds { use(bound, asTable: false) }
                    gather(body)
                case .genericFor(let names, let sources, let body):
                    for name in names { fix(name, .unknown) }
                    for source in sources { use(source, asTable: false) }
                    gather(body)
                case .block(let body):
                    gather(body)
                case .returns(let values):
                    if let first = values.first { returns.append(first) }
                    for value in values { use(value, asTable: false) }
                case .localFunction, .function, .breakLoop:
                    // A function has bindings of its own, gathered when it is called.
                    continue
                }
            }
        }

        private mutating func bind(_ targets: [LuaExpression], to values: [LuaExpression]) {
            // Names beyond the values get the extra results of a last call, or nil.
            let lastIsCall: Bool
            if case .call? = values.last { lastIsCall = true } else { lastIsCall = false }
            for (position, target) in targets.enumerated() {
                let value: LuaExpression? = position < values.count ? values[position] : nil
                switch target {
                case .name(let name):
                    if name == "KEYS" || name == "redis" {
                        problems.append(KeyProblem(line: 0, message: "\(name) is assigned: the check trusts KEYS and redis only as Redis gives them"))
                    }
                    if let value {
                        assigned[name, default: []].append(value)
                    } else if lastIsCall {
                        fix(name, .unknown)
                    }
                case .index(let base, let key):
                    if case .name(let table) = base {
                        if let value {
                            elementWrites[table, default: []].append(value)
                        } else if lastIsCall {
                            escaped.insert(table)
                        }
                    } else {
                        use(base, asTable: true)
                    }
                    use(key, asTable: false)
                default:
                    continue
                }
            }
            for value in values { use(value, asTable: false) }
        }

        /// Notes how `expression` uses names: a name anywhere but as a table operand (`t[k]`, `#t`,
        /// `unpack(t)`, `ipairs(t)`, `table.insert(t, v)` ...) may alias a table, whose elements are
        /// then unknown. Also notes `table.insert` writes, and gathers anonymous functions' bodies.
        mutating func use(_ expression: LuaExpression, asTable: Bool) {
            switch expression {
            case .name(let name):
                if !asTable { escaped.insert(name) }
            case .index(let base, let key):
                use(base, asTable: true)
                use(key, asTable: false)
            case .unary(let op, let operand):
                use(operand, asTable: op == "#")
            case .binary(_, let left, let right):
                use(left, asTable: false)
                use(right, asTable: false)
            case .call(let callee, let arguments, _):
                use(callee, asTable: true)
                let name = callee.dottedName ?? ""
                let readsTable = ScriptKeyChecker.tableReaders.contains(name)
                for (position, argument) in arguments.enumerated() { use(argument, asTable: readsTable && position == 0) }
                if name == "table.insert", arguments.count >= 2, case .name(let table) = arguments[0] {
                    elementWrites[table, default: []].append(arguments[arguments.count - 1])
                }
            case .table(let items, let fields):
                for item in items + fields { use(item, asTable: false) }
            case .function(let parameters, let body):
                // Checked as part of this body, its parameters unknown.
                for parameter in parameters { fix(parameter, .unknown) }
                gather(body)
            case .number, .string, .constant, .varargs:
                break
            }
        }
    }
}

extension LuaExpression {
    /// `f` or `a.b` for a callee written that way, else nil.
    var dottedName: String? {
        switch self {
        case .name(let name): return name
        case .index(.name(let base), .string(let field)): return base + "." + field
        default: return nil
        }
    }
}
