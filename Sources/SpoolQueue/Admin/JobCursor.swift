/// Where a page of jobs ended (`QueueAdmin.jobs`), passed back to get the next page. Opaque to callers:
/// `text` goes into a link and comes back through `init?(text:)`. It names a position, not an offset,
/// so reading the next page costs the same at any depth.
public struct JobCursor: Sendable, Equatable, CustomStringConvertible {
    enum Position: Sendable, Equatable {
        /// In a sorted set (scheduled, retry, active, dead, completed): the last job's score and id.
        /// Redis keeps members of equal score in id order, so (score, id) orders a set completely and
        /// stays a valid position when that job leaves the set.
        case ranked(score: Int64, id: String)
        /// In the lanes of pending jobs: the lane (its queue and tenant, "" for jobs without one), how many
        /// of its jobs the pages passed, counted from its oldest end, and the last of them ("" at the
        /// lane's start, before any).
        case lane(queue: String, tenant: String, passed: Int, id: String)
    }

    /// The state whose pages this cursor walks: a cursor of another state's pages is refused.
    let state: JobState
    let position: Position

    init(state: JobState, _ position: Position) {
        self.state = state
        self.position = position
    }

    /// `<state>.<score>.<id>`, or `<state>.<queue>.<tenant in hex>.<passed>.<id>` for lanes.
    public var text: String {
        switch position {
        case .ranked(let score, let id): return "\(state.rawValue).\(score).\(id)"
        case .lane(let queue, let tenant, let passed, let id): return "\(state.rawValue).\(queue).\(Self.hex(tenant)).\(passed).\(id)"
        }
    }

    public var description: String { text }

    /// Nil for text no page produced.
    public init?(text: String) {
        let head = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard head.count == 2, let state = JobState(rawValue: String(head[0])) else { return nil }
        switch state {
        case .pending, .parked:
            let parts = head[1].split(separator: ".", maxSplits: 3, omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 4, JobKindCatalog.isValidName(parts[0]), let tenant = Self.unhex(parts[1]),
                let passed = Int(parts[2]), passed >= 0, passed > 0 || parts[3].isEmpty, passed == 0 || !parts[3].isEmpty
            else { return nil }
            self.init(state: state, .lane(queue: parts[0], tenant: tenant, passed: passed, id: parts[3]))
        case .scheduled, .retry, .active, .dead, .completed:
            let parts = head[1].split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 2, let score = Int64(parts[0]), !parts[1].isEmpty else { return nil }
            self.init(state: state, .ranked(score: score, id: parts[1]))
        case .limited, .cancelled, .unknown:
            return nil
        }
    }

    /// Tenants are any bytes (1-128): hex keeps the cursor's separators unambiguous.
    static func hex(_ text: String) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count * 2)
        for byte in text.utf8 {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func unhex(_ text: String) -> String? {
        let bytes = Array(text.utf8)
        guard bytes.count % 2 == 0, bytes.count <= 256 else { return nil }
        func value(_ digit: UInt8) -> UInt8? {
            switch digit {
            case 48...57: return digit - 48
            case 97...102: return digit - 87
            default: return nil
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count / 2)
        for index in stride(from: 0, to: bytes.count, by: 2) {
            guard let high = value(bytes[index]), let low = value(bytes[index + 1]) else { return nil }
            out.append(high << 4 | low)
        }
        return String(decoding: out, as: UTF8.self)
    }
}
