import SpoolQueue
import SpoolRedis

/// How many jobs each state holds, for the Jobs page's tabs and the bulk actions' confirmations: the
/// counts Redis keeps (`QueueAdmin.stats()`, and ZCARD of the completed sets), never a scan.
///
/// A tenant admin gets its own pending jobs only (LLEN of its lane in each queue, one pipeline): the
/// other states keep no count per tenant, and the shared totals are not its to see.
enum DashboardJobCounts {
    static func read(_ services: APIServices, principal: Principal, queue: String?) async throws -> [JobState: Int] {
        if let tenant = principal.tenantID {
            let queues: [String]
            if let queue { queues = [queue] } else { queues = try await services.admin.queues() }
            let replies = try await services.redis.pipeline(queues.map { RedisCommand("LLEN", services.keys.lane($0, tenant: tenant)) })
            let pending = try replies.reduce(0) { $0 + (try $1.checked("LLEN").int ?? 0) }
            return [.pending: pending]
        }
        let stats = try await services.admin.stats().filter { queue == nil || $0.queue == queue }
        let replies = try await services.redis.pipeline(stats.map { RedisCommand("ZCARD", services.keys.completed($0.queue)) })
        let completed = try replies.reduce(0) { $0 + (try $1.checked("ZCARD").int ?? 0) }
        return [
            .pending: stats.reduce(0) { $0 + $1.pending },
            .scheduled: stats.reduce(0) { $0 + $1.scheduled },
            .retry: stats.reduce(0) { $0 + $1.retry },
            .active: stats.reduce(0) { $0 + $1.active },
            .dead: stats.reduce(0) { $0 + $1.dead },
            .completed: completed,
        ]
    }
}
