import SpoolRedis

/// The Lua scripts in `Scripts/`, compiled into the binary so that nothing has to ship beside it.
enum Scripts {
    static let enqueue = load("enqueue", PackageResources.enqueue_lua)
    static let fetch = load("fetch", PackageResources.fetch_lua)
    static let ack = load("ack", PackageResources.ack_lua)
    static let complete = load("complete", PackageResources.complete_lua)
    static let retry = load("retry", PackageResources.retry_lua)
    static let snooze = load("snooze", PackageResources.snooze_lua)
    static let kill = load("kill", PackageResources.kill_lua)
    static let requeue = load("requeue", PackageResources.requeue_lua)
    static let extend = load("extend", PackageResources.extend_lua)
    static let recover = load("recover", PackageResources.recover_lua)
    static let promote = load("promote", PackageResources.promote_lua)
    static let cancel = load("cancel", PackageResources.cancel_lua)
    static let deadRetry = load("dead_retry", PackageResources.dead_retry_lua)
    static let deadDiscard = load("dead_discard", PackageResources.dead_discard_lua)
    static let trimDead = load("trim_dead", PackageResources.trim_dead_lua)
    static let trimCompleted = load("trim_completed", PackageResources.trim_completed_lua)
    static let unpark = load("unpark", PackageResources.unpark_lua)
    static let waitForLimit = load("wait_for_limit", PackageResources.wait_for_limit_lua)
    static let releaseLimited = load("release_limited", PackageResources.release_limited_lua)
    static let limitAcquire = load("limit_acquire", PackageResources.limit_acquire_lua)
    static let limitRefund = load("limit_refund", PackageResources.limit_refund_lua)
    static let limitRelease = load("limit_release", PackageResources.limit_release_lua)
    static let limitPause = load("limit_pause", PackageResources.limit_pause_lua)
    static let quotaAlert = load("quota_alert", PackageResources.quota_alert_lua)

    /// The shared helpers (lanes, failed attempts), put before every script so that each can use them
    /// (Redis scripts cannot import).
    private static let lanes = String(decoding: PackageResources.lanes_lua, as: UTF8.self)

    private static func load(_ name: String, _ bytes: [UInt8]) -> RedisScript {
        RedisScript(name: "\(name).lua", source: lanes + "\n" + String(decoding: bytes, as: UTF8.self))
    }
}
