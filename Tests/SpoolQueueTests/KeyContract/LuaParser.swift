/// A Lua 5.1 expression, as far as the key check needs to see into it.
indirect enum LuaExpression: Sendable {
    case name(String)
    case number(String)
    case string(String)
    /// nil, true or false.
    case constant(String)
    case varargs
    case function(parameters: [String], body: [LuaStatement])
    /// `{a, b, k = v, [k] = v}`: the positional items, and the other fields' keys and values.
    case table(items: [LuaExpression], fields: [LuaExpression])
    /// `a[b]`, and `a.b` as `a["b"]`.
    case index(LuaExpression, LuaExpression)
    /// `f(args)`; a method call `a:m(args)` is `a.m(a, args)`.
    case call(LuaExpression, [LuaExpression], line: Int)
    case binary(String, LuaExpression, LuaExpression)
    case unary(String, LuaExpression)
}

/// A Lua 5.1 statement.
indirect enum LuaStatement: Sendable {
    case local(names: [String], values: [LuaExpression])
    case localFunction(name: String, parameters: [String], body: [LuaStatement])
    /// `function a.b() end`: `target` is the expression assigned.
    case function(target: LuaExpression, parameters: [String], body: [LuaStatement])
    case assignment(targets: [LuaExpression], values: [LuaExpression])
    case call(LuaExpression)
    case conditional(branches: [(condition: LuaExpression, body: [LuaStatement])], otherwise: [LuaStatement]?)
    case whileLoop(condition: LuaExpression, body: [LuaStatement])
    case repeatLoop(body: [LuaStatement], condition: LuaExpression)
    case numericFor(name: String, bounds: [LuaExpression], body: [LuaStatement])
    case genericFor(names: [String], sources: [LuaExpression], body: [LuaStatement])
    case block([LuaStatement])
    case returns([LuaExpression])
    case breakLoop
}

/// A recursive-descent parser for Lua 5.1, following the grammar of the reference manual (§8) and
/// lparser.c's operator priorities.
struct LuaParser {
    private let tokens: [LuaToken]
    private var position = 0

    /// The chunk's statements.
    static func parse(_ source: String) throws -> [LuaStatement] {
        var parser = LuaParser(tokens: try LuaLexer.tokens(source))
        let statements = try parser.block()
        guard parser.current.kind == .end else { throw parser.error("unexpected '\(parser.current.text)'") }
        return statements
    }

    private init(tokens: [LuaToken]) { self.tokens = tokens }

    private var current: LuaToken { tokens[position] }

    private func check(_ text: String) -> Bool {
        (current.kind == .symbol || current.kind == .keyword) && current.text == text
    }

    private mutating func accept(_ text: String) -> Bool {
        guard check(text) else { return false }
        position += 1
        return true
    }

    private mutating func expect(_ text: String) throws {
        guard accept(text) else { throw error("expected '\(text)', found '\(current.text)'") }
    }

    private mutating func name() throws -> String {
        guard current.kind == .name else { throw error("expected a name, found '\(current.text)'") }
        position += 1
        return tokens[position - 1].text
    }

    private func error(_ message: String) -> LuaSyntaxError { LuaSyntaxError(line: current.line, message: message) }

    private var blockEnds: Bool { current.kind == .end || check("end") || check("else") || check("elseif") || check("until") }

    private mutating func block() throws -> [LuaStatement] {
        var statements: [LuaStatement] = []
        while !blockEnds {
            if accept(";") { continue }
            if accept("return") {
                var values: [LuaExpression] = []
                if !blockEnds && !check(";") { values = try expressionList() }
                _ = accept(";")
                statements.append(.returns(values))
                // `return` ends its block.
                guard blockEnds else { throw error("'return' must be the last statement of its block") }
                break
            }
            statements.append(try statement())
        }
        return statements
    }

    private mutating func statement() throws -> LuaStatement {
        let line = current.line
        if accept("local") {
            if accept("function") {
                let name = try self.name()
                let (parameters, body) = try functionBody()
                return .localFunction(name: name, parameters: parameters, body: body)
            }
            var names = [try self.name()]
            while accept(",") { names.append(try self.name()) }
            var values: [LuaExpression] = []
            if accept("=") { values = try expressionList() }
            return .local(names: names, values: values)
        }
        if accept("function") {
            var target = LuaExpression.name(try self.name())
            while accept(".") {
                let field = try self.name()
                target = .index(target, .string(field))
            }
            let method = accept(":")
            if method {
                let field = try self.name()
                target = .index(target, .string(field))
            }
            let (declared, body) = try functionBody()
            return .function(target: target, parameters: method ? ["self"] + declared : declared, body: body)
        }
        if accept("if") {
            var branches: [(condition: LuaExpression, body: [LuaStatement])] = []
            var condition = try expression()
            try expect("then")
            var body = try block()
            branches.append((condition, body))
            var otherwise: [LuaStatement]?
            while true {
                if accept("elseif") {
                    condition = try expression()
                    try expect("then")
                    body = try block()
                    branches.append((condition, body))
                } else {
                    if accept("else") { otherwise = try block() }
                    try expect("end")
                    break
                }
            }
            return .conditional(branches: branches, otherwise: otherwise)
        }
        if accept("while") {
            let condition = try expression()
            try expect("do")
            let body = try block()
            try expect("end")
            return .whileLoop(condition: condition, body: body)
        }
        if accept("repeat") {
            let body = try block()
            try expect("until")
            let condition = try expression()
            return .repeatLoop(body: body, condition: condition)
        }
        if accept("do") {
            let body = try block()
            try expect("end")
            return .block(body)
        }
        if accept("for") {
            let first = try self.name()
            if accept("=") {
                let bounds = try expressionList()
                guard (2...3).contains(bounds.count) else { throw error("a numeric for takes a start, a limit and a step") }
                try expect("do")
                let body = try block()
                try expect("end")
                return .numericFor(name: first, bounds: bounds, body: body)
            }
            var names = [first]
            while accept(",") { names.append(try self.name()) }
            try expect("in")
            let sources = try expressionList()
            try expect("do")
            let body = try block()
            try expect("end")
            return .genericFor(names: names, sources: sources, body: body)
        }
        if accept("break") { return .breakLoop }
        // A call, or the targets of an assignment.
        let first = try suffixedExpression()
        if check("=") || check(",") {
            var targets = [first]
            while accept(",") { targets.append(try suffixedExpression()) }
            try expect("=")
            for target in targets {
                switch target {
                case .name, .index: continue
                default: throw LuaSyntaxError(line: line, message: "cannot assign to this expression")
                }
            }
            let values = try expressionList()
            return .assignment(targets: targets, values: values)
        }
        guard case .call = first else { throw LuaSyntaxError(line: line, message: "a statement must be a call or an assignment") }
        return .call(first)
    }

    private mutating func functionBody() throws -> ([String], [LuaStatement]) {
        try expect("(")
        var parameters: [String] = []
        if !check(")") {
            repeat {
                if accept("...") {
                    parameters.append("...")
                    break
                }
                parameters.append(try name())
            } while accept(",")
        }
        try expect(")")
        let body = try block()
        try expect("end")
        return (parameters, body)
    }

    private mutating func expressionList() throws -> [LuaExpression] {
        var list = [try expression()]
        while accept(",") { list.append(try expression()) }
        return list
    }

    /// Left and right priorities of the binary operators (lparser.c); `..` and `^` are right associative.
    private static let binaryPriority: [String: (left: Int, right: Int)] = [
        "or": (1, 1), "and": (2, 2),
        "<": (3, 3), ">": (3, 3), "<=": (3, 3), ">=": (3, 3), "~=": (3, 3), "==": (3, 3),
        "..": (5, 4), "+": (6, 6), "-": (6, 6), "*": (7, 7), "/": (7, 7), "%": (7, 7), "^": (10, 9),
    ]
    private static let unaryPriority = 8

    mutating func expression() throws -> LuaExpression { try subexpression(limit: 0) }

    private mutating func subexpression(limit: Int) throws -> LuaExpression {
        var left: LuaExpression
        if check("not") || check("-") || check("#") {
            let op = current.text
            position += 1
            let operand = try subexpression(limit: Self.unaryPriority)
            left = .unary(op, operand)
        } else {
            left = try simpleExpression()
        }
        while current.kind == .symbol || current.kind == .keyword, let priority = Self.binaryPriority[current.text], priority.left > limit {
            let op = current.text
            position += 1
            let right = try subexpression(limit: priority.right)
            left = .binary(op, left, right)
        }
        return left
    }

    private mutating func simpleExpression() throws -> LuaExpression {
        let token = current
        switch token.kind {
        case .number:
            position += 1
            return .number(token.text)
        case .string:
            position += 1
            return .string(token.text)
        case .keyword where ["nil", "true", "false"].contains(token.text):
            position += 1
            return .constant(token.text)
        case .keyword where token.text == "function":
            position += 1
            let (parameters, body) = try functionBody()
            return .function(parameters: parameters, body: body)
        case .symbol where token.text == "...":
            position += 1
            return .varargs
        case .symbol where token.text == "{":
            return try table()
        default:
            return try suffixedExpression()
        }
    }

    /// A name or a parenthesized expression, then any number of `.name`, `[exp]`, `:name args` and `args`.
    private mutating func suffixedExpression() throws -> LuaExpression {
        var expression: LuaExpression
        if accept("(") {
            expression = try self.expression()
            try expect(")")
        } else {
            let first = try name()
            expression = .name(first)
        }
        while true {
            let line = current.line
            if accept(".") {
                let field = try name()
                expression = .index(expression, .string(field))
            } else if accept("[") {
                let key = try self.expression()
                try expect("]")
                expression = .index(expression, key)
            } else if accept(":") {
                let method = try name()
                let list = try arguments()
                expression = .call(.index(expression, .string(method)), [expression] + list, line: line)
            } else if check("(") || check("{") || current.kind == .string {
                let list = try arguments()
                expression = .call(expression, list, line: line)
            } else {
                return expression
            }
        }
    }

    private mutating func arguments() throws -> [LuaExpression] {
        if current.kind == .string {
            position += 1
            return [.string(tokens[position - 1].text)]
        }
        if check("{") {
            let constructor = try table()
            return [constructor]
        }
        try expect("(")
        if accept(")") { return [] }
        let list = try expressionList()
        try expect(")")
        return list
    }

    private mutating func table() throws -> LuaExpression {
        try expect("{")
        var items: [LuaExpression] = []
        var fields: [LuaExpression] = []
        while !check("}") {
            if accept("[") {
                let key = try expression()
                try expect("]")
                try expect("=")
                let value = try expression()
                fields += [key, value]
            } else if current.kind == .name, tokens[position + 1].kind == .symbol, tokens[position + 1].text == "=" {
                position += 2
                let value = try expression()
                fields.append(value)
            } else {
                let item = try expression()
                items.append(item)
            }
            if !accept(",") && !accept(";") { break }
        }
        try expect("}")
        return .table(items: items, fields: fields)
    }
}
