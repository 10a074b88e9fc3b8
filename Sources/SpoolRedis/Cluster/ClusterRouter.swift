import Logging
import SpoolSupport
import Synchronization

/// The Redis Cluster side of `RedisClient`: one client per primary, and each command sent to the
/// primary that serves its key's hash slot.
///
/// - A pipeline is split by node, the parts run at once, and the replies are put back in order.
/// - `MOVED` re-sends the command to the node it names and re-reads the slot map; `ASK` re-sends it
///   once, after `ASKING`, to the node importing the slot.
/// - `TRYAGAIN` and `CLUSTERDOWN` (a slot mid-migration, a failover in progress) and a slot no node
///   serves are retried with backoff, for a few seconds, then answered as they came.
/// - A node that cannot be reached fails that call with a connection error, as one Redis would, and
///   makes the map be read again: after a failover the callers' next attempt goes to the new primary.
/// - Scripts need nothing more: a NOSCRIPT reply is answered by EVAL through this same routing
///   (`RedisClient.run(_: [ScriptCall])`), so each node loads the scripts it is asked to run.
final class ClusterRouter: Sendable {
    let url: RedisURL
    private let name: String
    private let options: RedisClient.Options
    private let logger: Logger
    private let nodes = Mutex<[RedisEndpoint: RedisClient]>([:])
    private let map = Mutex<(slots: SlotMap, readAt: Duration?)>((SlotMap(), nil))
    private let refresher: CallCoalescer<Void, SlotMap>

    /// Redirects followed for one command before its last reply is returned as it is.
    static let maximumRedirects = 5
    /// How long `TRYAGAIN`, `CLUSTERDOWN` and unserved slots are retried.
    static let retryBudget = Duration.seconds(5)
    /// A map read less than this long ago is not read again on a connection error.
    static let refreshInterval = Duration.milliseconds(100)

    init(url: RedisURL, name: String, options: RedisClient.Options, logger: Logger) {
        self.url = url
        self.name = name
        self.options = options
        self.logger = logger
        let box = WeakBox<ClusterRouter>()
        refresher = CallCoalescer(batchSize: 1_000) { requests in
            guard let router = box.value else { throw RedisError(.connection, "cluster client '\(name)' is closed") }
            let fresh = try await router.readSlotMap()
            return requests.map { _ in fresh }
        }
        box.value = self
    }

    func close() {
        for client in nodes.withLock({ Array($0.values) }) { client.close() }
    }

    var isConnected: Bool {
        let primaries = map.withLock { $0.slots.primaries }
        return !primaries.isEmpty && primaries.allSatisfy { client(for: $0).isConnected }
    }

    var waitingCount: Int { nodes.withLock { Array($0.values) }.reduce(0) { $0 + $1.waitingCount } }

    var retryDelay: Duration {
        map.withLock { $0.slots.primaries }.map { client(for: $0).retryDelay }.max() ?? options.minimumReconnectDelay
    }

    func primaryClients() async throws -> [RedisClient] {
        try await slotMap().primaries.map { client(for: $0) }
    }

    /// The slot map in use, read first if there is none yet.
    func slotMap() async throws -> SlotMap {
        if let current = map.withLock({ $0.readAt == nil ? nil : $0.slots }) { return current }
        return try await refresher.submit(())
    }

    /// Reads the map again unless it was read a moment ago; errors are left to the next caller.
    func refreshSoon() {
        let due = map.withLock { state in state.readAt.map { monotonicNow() - $0 >= Self.refreshInterval } ?? true }
        guard due else { return }
        let refresher = self.refresher
        Task { _ = try? await refresher.submit(()) }
    }

    /// The node that serves a command now: its key's slot owner, or any primary for a keyless command.
    private func route(_ command: RedisCommand, _ slots: SlotMap) -> RedisEndpoint? {
        guard let key = command.routingKey else { return slots.primaries.first }
        return slots.owner(of: HashSlot.of(key))
    }

    func pipeline(_ commands: [RedisCommand]) async throws -> [RedisReply] {
        var replies = [RedisReply?](repeating: nil, count: commands.count)
        // Where a redirect sent a command, and whether it must be preceded by ASKING.
        var redirected: [Int: (endpoint: RedisEndpoint, asking: Bool)] = [:]
        var redirects = [Int](repeating: 0, count: commands.count)
        var pending = Array(commands.indices)
        let started = monotonicNow()
        var backoff = Duration.milliseconds(25)
        while !pending.isEmpty {
            let slots = try await slotMap()
            var groups: [RedisEndpoint: [Int]] = [:]
            var order: [RedisEndpoint] = []
            var unserved: [Int] = []
            for index in pending {
                guard let target = redirected[index]?.endpoint ?? route(commands[index], slots) else {
                    unserved.append(index)
                    continue
                }
                if groups[target] == nil { order.append(target) }
                groups[target, default: []].append(index)
            }
            let outcomes = try await send(order.map { ($0, groups[$0]!) }, commands: commands, redirected: redirected)
            var again = unserved
            var wait = !unserved.isEmpty
            if wait { refreshSoon() }
            for (index, reply) in outcomes {
                guard let redirect = Redirect(reply), redirects[index] < Self.maximumRedirects,
                    monotonicNow() - started < Self.retryBudget
                else {
                    replies[index] = reply
                    continue
                }
                redirects[index] += 1
                again.append(index)
                switch redirect {
                case .moved(let slot, let endpoint):
                    redirected[index] = (endpoint, false)
                    map.withLock { $0.slots = $0.slots.moving(slot: slot, to: endpoint) }
                    refreshSoon()
                case .ask(let endpoint):
                    redirected[index] = (endpoint, true)
                case .tryAgain:
                    redirected[index] = nil
                    wait = true
                    refreshSoon()
                }
            }
            pending = again.sorted()
            if !pending.isEmpty && wait {
                if monotonicNow() - started >= Self.retryBudget {
                    for index in pending where replies[index] == nil {
                        replies[index] = .error("CLUSTERDOWN no node serves the slot of this command after \(Self.retryBudget)")
                    }
                    break
                }
                try await Task.sleep(for: backoff)
                backoff = min(backoff * 2, .milliseconds(500))
            }
        }
        return replies.map { $0! }
    }

    /// Sends each node its part at once; returns every command's reply by index. A node that cannot
    /// be reached fails the whole call, after the map is marked for a new read.
    private func send(
        _ parts: [(RedisEndpoint, [Int])], commands: [RedisCommand], redirected: [Int: (endpoint: RedisEndpoint, asking: Bool)]
    ) async throws -> [(Int, RedisReply)] {
        func batch(_ indices: [Int]) -> [RedisCommand] {
            var batch: [RedisCommand] = []
            batch.reserveCapacity(indices.count)
            for index in indices {
                if redirected[index]?.asking == true { batch.append(RedisCommand("ASKING")) }
                batch.append(commands[index])
            }
            return batch
        }
        func unpack(_ indices: [Int], _ replies: [RedisReply]) -> [(Int, RedisReply)] {
            var result: [(Int, RedisReply)] = []
            var offset = 0
            for index in indices {
                if redirected[index]?.asking == true { offset += 1 }
                result.append((index, replies[offset]))
                offset += 1
            }
            return result
        }
        do {
            if parts.count == 1 {
                let (endpoint, indices) = parts[0]
                return unpack(indices, try await client(for: endpoint).pipeline(batch(indices)))
            }
            return try await withThrowingTaskGroup(of: [(Int, RedisReply)].self) { group in
                for (endpoint, indices) in parts {
                    let client = client(for: endpoint)
                    let commands = batch(indices)
                    group.addTask { unpack(indices, try await client.pipeline(commands)) }
                }
                var all: [(Int, RedisReply)] = []
                for try await part in group { all.append(contentsOf: part) }
                return all
            }
        } catch let error as RedisError where error.isConnectionError {
            refreshSoon()
            throw error
        }
    }

    private func client(for endpoint: RedisEndpoint) -> RedisClient {
        nodes.withLock { nodes in
            if let client = nodes[endpoint] { return client }
            let client = RedisClient(url: url.node(endpoint), name: "\(name)@\(endpoint)", options: options, logger: logger)
            nodes[endpoint] = client
            return client
        }
    }

    /// Asks the known primaries, then the seeds, for `CLUSTER SLOTS`; the first answer wins.
    private func readSlotMap() async throws -> SlotMap {
        let known = map.withLock { $0.slots.primaries }
        var lastError: (any Error)?
        for endpoint in known + url.clusterSeeds.filter({ !known.contains($0) }) {
            do {
                let reply = try await client(for: endpoint).run("CLUSTER", "SLOTS")
                let fresh = try SlotMap(clusterSlots: reply, seedHost: endpoint.host)
                let previous = map.withLock { state -> [RedisEndpoint] in
                    defer { state = (fresh, monotonicNow()) }
                    return state.slots.primaries
                }
                if Set(previous) != Set(fresh.primaries) && !previous.isEmpty {
                    logger.notice(
                        "redis cluster primaries changed",
                        metadata: ["client": "\(name)", "primaries": "\(fresh.primaries.map(\.description).joined(separator: ","))"])
                }
                return fresh
            } catch {
                lastError = error
            }
        }
        throw RedisError(
            .connection, "no node of the cluster \(url) answered CLUSTER SLOTS: \((lastError as? RedisError)?.message ?? "\(lastError.map { "\($0)" } ?? "no nodes")")")
    }
}

/// What a cluster error reply asks of the client.
private enum Redirect {
    case moved(slot: Int, RedisEndpoint)
    case ask(RedisEndpoint)
    case tryAgain

    /// `MOVED 3999 127.0.0.1:6381`, `ASK 3999 127.0.0.1:6381`, `TRYAGAIN …`, `CLUSTERDOWN …`.
    init?(_ reply: RedisReply) {
        guard let message = reply.errorMessage else { return nil }
        let words = message.split(separator: " ")
        switch words.first {
        case "TRYAGAIN", "CLUSTERDOWN":
            self = .tryAgain
        case "MOVED", "ASK":
            guard words.count >= 3, let slot = Int(words[1]), let colon = words[2].lastIndex(of: ":"),
                let port = Int(words[2][words[2].index(after: colon)...])
            else { return nil }
            var host = String(words[2][..<colon])
            if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            let endpoint = RedisEndpoint(host: host, port: port)
            self = words.first == "MOVED" ? .moved(slot: slot, endpoint) : .ask(endpoint)
        default:
            return nil
        }
    }
}

/// Lets the map's refresher reach its router without keeping it alive.
private final class WeakBox<Value: AnyObject>: @unchecked Sendable {
    private let lock = Mutex<Void>(())
    private weak var stored: Value?
    var value: Value? {
        get { lock.withLock { _ in stored } }
        set { lock.withLock { _ in stored = newValue } }
    }
}
