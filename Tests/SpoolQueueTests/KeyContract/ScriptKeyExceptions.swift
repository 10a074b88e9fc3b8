/// The documented exceptions to "a script touches only the keys it is given" (docs/architecture.md,
/// "Keys and slots"): per script, by its path under Sources, the KEYS it may extend with a suffix, and
/// which keys it builds that way. Keys are built only where the caller does not know them: ids and
/// tenants the script reads from Redis, or one key per job of a batch.
///
/// Why each holds:
/// - Same slot. Every one of these KEYS carries its queue's whole tag (`spool:{q}:job:`), and Redis
///   hashes the text between a key's first '{' and the next '}', which that KEY already closed: what is
///   appended cannot move the key (KeySlotTests checks that every call's KEYS share one tag).
/// - No partial run while the slot migrates. Every call of these scripts also carries a KEY that never
///   exists (a prefix ending in ':'), so Redis answers TRYAGAIN for the whole call rather than run it on
///   a node that no longer holds a key the script builds (KeySlotTests checks that such a KEY is there).
///
/// ScriptKeyContractTests fails on a key built from any other KEY, and on an entry here that a script
/// no longer needs.
enum ScriptKeyExceptions {
    static let prefixes: [String: [Int: String]] = [
        "SpoolQueue/Scripts/enqueue.lua": [
            1: "the lanes of the batch's tenants, spool:{q}:pending:<tenant>",
            3: "the new jobs' hashes, and the hash of a unique key's holder, whose id it reads from the unique key",
            4: "the idempotency keys of the batch, spool:{q}:idem:<tenant>:<key>",
            8: "the unique keys of the batch, spool:{q}:unique:<tenant>:<key>",
        ],
        "SpoolQueue/Scripts/fetch.lua": [
            1: "the lanes of the tenants it reads from the ring as it serves them",
            5: "the hashes of the ids it pops from those lanes",
        ],
        "SpoolQueue/Scripts/ack.lua": [5: "the hashes of a batch of settled jobs (ids in ARGV)"],
        "SpoolQueue/Scripts/complete.lua": [5: "the settled job's hash (its id in ARGV)"],
        "SpoolQueue/Scripts/recover.lua": [
            2: "the lanes of the recovered jobs' tenants, read from their hashes",
            5: "the hashes of the expired ids it reads from the active set",
        ],
        "SpoolQueue/Scripts/promote.lua": [
            2: "the lanes of the due jobs' tenants, read from their hashes",
            3: "the hashes of the due ids it reads from the scheduled or retry set",
        ],
        "SpoolQueue/Scripts/cancel.lua": [
            1: "the job's lane, its tenant read from its hash",
            7: "the list of the limiter the job waits for, named by its hash's limited_by",
        ],
        "SpoolQueue/Scripts/dead_retry.lua": [
            2: "the lanes of the retried jobs' tenants, read from their hashes",
            3: "the hashes of the retried jobs (ids in ARGV, up to a bulk action's 1,000)",
        ],
        "SpoolQueue/Scripts/dead_discard.lua": [2: "the hashes of the discarded jobs (ids in ARGV)"],
        "SpoolQueue/Scripts/trim_completed.lua": [2: "the hashes of the ids it reads from the completed set"],
        "SpoolQueue/Scripts/trim_dead.lua": [2: "the hashes of the ids it reads from the dead set"],
        "SpoolQueue/Scripts/wait_for_limit.lua": [3: "the hashes of a batch of refused jobs (ids in ARGV)"],
        "SpoolQueue/Scripts/release_limited.lua": [
            2: "the limiters' lists, named by the limit keys it reads from limited_keys",
            4: "the lanes of the released jobs' tenants, read from their hashes",
            7: "the hashes of the ids it pops from those lists",
        ],
        "SpoolAPI/Dashboard/live_counts.lua": [
            8: "the lanes of the tenants it reads from the ring (read-only)",
            9: "the hash of each lane's oldest job (read-only)",
        ],
    ]
}
