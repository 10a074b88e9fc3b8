import Foundation
import TestSupport
import Testing

/// The key contract, checked statically over every script's every branch: a script names only keys
/// it was given as KEYS, or keys built from the few KEYS its exceptions list (ScriptKeyExceptions).
/// Redis Cluster refuses a call whose declared keys hash to different slots, and while a slot
/// migrates it checks the declared keys before the script runs; a key the script builds from
/// anything else escapes both.
@Suite struct ScriptKeyContractTests {
    private static let sources = TestEnvironment.packageRoot + "/Sources"
    /// Scripts.swift puts this file before every queue script; it is no script of its own.
    private static let prelude = "SpoolQueue/Scripts/lanes.lua"

    @Test func everyScriptTouchesOnlyTheKeysItIsGiven() throws {
        let files = try FileManager.default.subpathsOfDirectory(atPath: Self.sources).filter { $0.hasSuffix(".lua") }.sorted()
        #expect(files.count >= 27, "found only \(files)")
        let lanes = try String(contentsOfFile: Self.sources + "/" + Self.prelude, encoding: .utf8)
        let preludeLines = (lanes + "\n").filter { $0 == "\n" }.count
        var failures: [String] = []
        for file in files where file != Self.prelude {
            let text = try String(contentsOfFile: Self.sources + "/" + file, encoding: .utf8)
            // As Redis runs it: Scripts.swift joins lanes.lua and a queue script with a newline.
            let queueScript = file.hasPrefix("SpoolQueue/Scripts/")
            let allowed = Set((ScriptKeyExceptions.prefixes[file] ?? [:]).keys)
            let result: (problems: [KeyProblem], extended: Set<Int>)
            do {
                result = try ScriptKeyChecker.check(queueScript ? lanes + "\n" + text : text, extensible: allowed)
            } catch {
                failures.append("\(file): cannot be read: \(error)")
                continue
            }
            for problem in result.problems {
                failures.append("\(Self.place(problem.line, in: file, preludeLines: queueScript ? preludeLines : 0)): \(problem.message)")
            }
            for index in allowed.subtracting(result.extended).sorted() {
                failures.append("\(file): never extends KEYS[\(index)]: remove its entry from ScriptKeyExceptions")
            }
        }
        for file in ScriptKeyExceptions.prefixes.keys.sorted() where !files.contains(file) {
            failures.append("ScriptKeyExceptions lists \(file), which does not exist")
        }
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
    }

    /// requeue.lua before it took the job's lane as a KEY: it pushed onto `KEYS[4] .. ':' .. tenant`,
    /// the tenant read from the job's hash, through the lane_push of lanes.lua at the time.
    @Test func theRequeueThatBuiltItsLaneFails() throws {
        let source = """
            local function lane_key(pending, tenant)
              if not tenant or tenant == '' then return pending end
              return pending .. ':' .. tenant
            end
            local function lane_push(pending, ring, parked, tenant, ids, front)
              tenant = tenant or ''
              if front then
                local reversed = {}
                for i = #ids, 1, -1 do reversed[#reversed + 1] = ids[i] end
                redis.call('RPUSH', lane_key(pending, tenant), unpack(reversed))
              else
                redis.call('LPUSH', lane_key(pending, tenant), unpack(ids))
              end
              if (tenant == '' or redis.call('SISMEMBER', parked, tenant) == 0) and not redis.call('LPOS', ring, tenant) then
                redis.call('RPUSH', ring, tenant)
              end
            end
            if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then return 0 end
            redis.call('ZREM', KEYS[1], ARGV[1])
            redis.call('HDEL', KEYS[2], ARGV[1])
            redis.call('HSET', KEYS[3], 'state', 'pending')
            lane_push(KEYS[4], KEYS[5], KEYS[6], redis.call('HGET', KEYS[3], 'tenant'), {ARGV[1]}, true)
            return 1
            """
        let problems = try ScriptKeyChecker.check(source, extensible: []).problems
        #expect(problems.contains { $0.line == 10 && $0.message.contains("RPUSH on lane_key(pending, tenant): a key built from KEYS[4]") })
        #expect(problems.contains { $0.line == 12 && $0.message.contains("in lane_push, called on line 22") })
        #expect(problems.count == 2, "\(problems)")
        // Declared as the exception it never was, it passes: the check is what the table allows.
        #expect(try ScriptKeyChecker.check(source, extensible: [4]).problems.isEmpty)
    }

    @Test(arguments: [
        ("redis.call('GET', ARGV[1])", "GET on ARGV[1], which is not one of KEYS"),
        ("local id = redis.call('GET', KEYS[1])\nredis.call('DEL', id)", "DEL on id, which is not one of KEYS"),
        ("redis.call('SET', KEYS[1] .. ':tat', 1)", "a key built from KEYS[1], which this script may not extend"),
        ("for i = 1, #KEYS do redis.call('GET', KEYS[i]) end", "GET on KEYS[i], which is not one of KEYS"),
        ("local call = redis.call\ncall('GET', KEYS[1])", "redis.call is used as a value"),
        ("local command = ARGV[1]\nredis.call(command, KEYS[1])", "the command is not written as a literal"),
        ("redis.call('OBJECT', 'ENCODING', KEYS[1])", "OBJECT is not in the check's table of key positions"),
        ("redis.call('LMOVE', KEYS[1], ARGV[1], 'LEFT', 'RIGHT')", "LMOVE on ARGV[1]"),
        ("redis.call('EXISTS', KEYS[1], ARGV[1])", "EXISTS on ARGV[1]"),
        ("local gone = {KEYS[1]}\ngone[#gone + 1] = ARGV[1]\nredis.call('UNLINK', unpack(gone))", "UNLINK on unpack(gone)"),
        ("local t = {}\nlocal alias = t\nalias[1] = KEYS[1]\nredis.call('DEL', unpack(t))", "DEL on unpack(t)"),
        ("local t = {}\ntable.insert(t, ARGV[1])\nredis.call('DEL', unpack(t))", "DEL on unpack(t)"),
        ("local function get(key) return redis.call('GET', key) end\nget(ARGV[1])", "GET on key, which is not one of KEYS"),
        ("local function get(key) return redis.call('GET', key) end\nlocal f = get\nf(KEYS[1])", "get is used as a value"),
        ("local KEYS = {ARGV[1]}\nredis.call('GET', KEYS[1])", "KEYS is assigned"),
        ("redis.pcall('HGET', tostring(KEYS[1]), 'f')", "HGET on tostring(KEYS[1])"),
    ])
    func aKeyThatWasNotGivenFails(source: String, problem: String) throws {
        let problems = try ScriptKeyChecker.check(source, extensible: [])
        #expect(problems.problems.contains { $0.message.contains(problem) }, "\(problems.problems)")
    }

    @Test func keysTheirAliasesHelpersTablesAndDeclaredPrefixesPass() throws {
        let source = """
            -- a comment, and a long one: --[[ redis.call('GET', ARGV[1]) ]]
            --[==[ redis.call('GET', ARGV[1]) ]==]
            local function hash(prefix, id) return prefix .. id end
            local stats = KEYS[2]
            redis.call('HINCRBY', stats, 'n', 1)
            local done = {}
            for _, id in ipairs(ARGV) do done[#done + 1] = KEYS[1] .. id end
            if #done > 0 then redis.call('UNLINK', unpack(done)) end
            local lane = KEYS[3]
            if ARGV[1] ~= '' then lane = lane .. ':' .. ARGV[1] end
            redis.call('HGET', hash(KEYS[1], ARGV[1]), "state")
            redis.call('LMOVE', KEYS[4], KEYS[4], 'LEFT', 'RIGHT')
            redis.call('LLEN', lane)
            local missing = redis.call('GET', KEYS[5]) or ''
            return redis.call('EXISTS', KEYS[2], KEYS[4])
            """
        let result = try ScriptKeyChecker.check(source, extensible: [1, 3])
        #expect(result.problems.isEmpty, "\(result.problems)")
        #expect(result.extended == [1, 3])
    }

    /// `lanes.lua:<line>` for a line of the prelude, else `<file>:<line>` in the script's own numbering.
    private static func place(_ line: Int, in file: String, preludeLines: Int) -> String {
        if line == 0 { return file }
        if line <= preludeLines { return "\(prelude):\(line) (run by \(file))" }
        return "\(file):\(line - preludeLines)"
    }
}
