import SpoolSupport

/// A live worker process, as its heartbeat registers it (see `Heartbeat`) and the Workers page shows it.
public struct WorkerProcess: Sendable, Equatable, Codable {
    /// A slot's running job.
    public struct BusySlot: Sendable, Equatable, Codable {
        public var jobID: String
        public var kind: String
        public var queue: String
        public var tenant: String?
        /// When the job started, unix milliseconds (by the worker's clock).
        public var startedAt: Int64

        enum CodingKeys: String, CodingKey {
            case kind, queue, tenant
            case jobID = "job_id"
            case startedAt = "started_at"
        }
    }

    /// `<host>:<pid>:<random>`.
    public var id: String
    public var host: String
    public var pid: Int?
    public var queues: [String]
    public var concurrency: Int
    /// The running jobs, longest running first.
    public var busy: [BusySlot]
    /// Jobs it holds leases on: running, prefetched, or being settled.
    public var leased: Int
    /// Unix milliseconds; nil for a process from before this was recorded.
    public var startedAt: Int64?
    /// Its last heartbeat, unix milliseconds.
    public var lastBeat: Int64
    /// How often it beats, in milliseconds; nil for a process from before this was recorded.
    public var beatIntervalMs: Int64?

    enum CodingKeys: String, CodingKey {
        case id, host, pid, queues, concurrency, busy, leased
        case startedAt = "started_at"
        case lastBeat = "last_beat"
        case beatIntervalMs = "beat_interval_ms"
    }

    /// Reads a process from its hash; nil when the hash is gone (expired with the process).
    init?(id: String, lastBeat: Int64, hash: [String: String]) {
        guard !hash.isEmpty else { return nil }
        typealias Field = Heartbeat.Field
        self.id = id
        self.lastBeat = lastBeat
        // Older processes wrote no host: the id starts with it.
        host = hash[Field.host.rawValue] ?? String(id.split(separator: ":").first ?? "")
        pid = hash[Field.pid.rawValue].flatMap { Int($0) }
        queues = (hash[Field.queues.rawValue] ?? "").split(separator: ",").map(String.init)
        concurrency = hash[Field.concurrency.rawValue].flatMap { Int($0) } ?? 0
        leased = hash[Field.leased.rawValue].flatMap { Int($0) } ?? 0
        startedAt = hash[Field.startedAt.rawValue].flatMap { Int64($0) }
        beatIntervalMs = hash[Field.intervalMs.rawValue].flatMap { Int64($0) }
        let slots = hash[Field.running.rawValue].flatMap { try? JSONValue.parse($0) }?.arrayValue ?? []
        busy = slots.compactMap { slot in
            guard let job = slot["id"]?.stringValue, let started = slot["started_at"]?.numberValue else { return nil }
            return BusySlot(
                jobID: job, kind: slot["kind"]?.stringValue ?? "", queue: slot["queue"]?.stringValue ?? "",
                tenant: slot["tenant"]?.stringValue, startedAt: Int64(started))
        }
    }

    /// Whether its last beat is recent enough at `now`: within `Heartbeat.missedBeats` intervals. A process
    /// from before intervals were recorded counts while its hash lives (it expires two leases after
    /// the last beat).
    func isLive(at now: Int64) -> Bool {
        guard let beatIntervalMs else { return true }
        return now - lastBeat <= beatIntervalMs * Int64(Heartbeat.missedBeats)
    }
}
