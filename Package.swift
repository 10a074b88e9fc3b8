// swift-tools-version:6.1
import PackageDescription

// Spool: a job-queue worker system backed by Redis.
// C libraries come in through system-library targets, each imported by one module only:
// CHiredis and COpenSSL (TLS to Redis, under hiredis's reader) by SpoolRedis, CLibpq by SpoolPostgres,
// CCurl by SpoolHTTP.
let package = Package(
    name: "spool",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "spool", targets: ["spool"]),
        .library(name: "SpoolQueue", targets: ["SpoolQueue"]),
        .library(name: "SpoolClient", targets: ["SpoolClient"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        // Hashes and HMAC (SpoolSupport.Hashing), and AES-GCM for OAuth tokens at rest (SpoolSupport.SecretBox).
        // Hummingbird's dependencies build it already.
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
        // The HTTP servers (sandbox provider, enqueue API). Hummingbird's default traits pull in
        // swift-configuration and full Foundation, which Spool does not use: leave them off.
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.0", traits: []),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.81.0"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.34.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.4.0"),
        // /metrics: swift-metrics for HTTP request metrics, swift-prometheus for the text format.
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.0.0"),
        // The dashboard's pages: server-rendered templates that HTML-escape every value they print.
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.0"),
    ],
    targets: [
        .systemLibrary(name: "CHiredis", providers: [.apt(["libhiredis-dev"])]),
        .systemLibrary(name: "COpenSSL", providers: [.apt(["libssl-dev"])]),
        .target(name: "SpoolSupport", dependencies: [.product(name: "Crypto", package: "swift-crypto")]),
        // Everything SMS-specific that is not persistence: segments, recipients' zones, quiet hours, the send gates.
        .target(
            name: "SpoolSMS",
            dependencies: ["SpoolSupport"],
            resources: [.embedInCode("Resources/phone_zones.tsv")]
        ),
        .systemLibrary(name: "CLibpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CCurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .target(name: "SpoolHTTP", dependencies: ["CCurl", "SpoolSupport"]),
        .target(
            name: "SpoolSandbox",
            dependencies: [
                "SpoolHTTP", "SpoolSMS", "SpoolSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "SpoolPostgres",
            dependencies: ["CLibpq", "SpoolSupport", .product(name: "Logging", package: "swift-log")],
            resources: [
                .embedInCode("Migrations/0001_job_results.sql"),
                .embedInCode("Migrations/0002_tenants_and_api_keys.sql"),
                .embedInCode("Migrations/0003_tenant_paused_by.sql"),
                .embedInCode("Migrations/0004_sms.sql"),
                .embedInCode("Migrations/0005_job_result_outcomes.sql"),
                .embedInCode("Migrations/0006_sender_numbers.sql"),
                .embedInCode("Migrations/0007_conversations.sql"),
                .embedInCode("Migrations/0008_message_purpose.sql"),
                .embedInCode("Migrations/0009_transcripts.sql"),
                .embedInCode("Migrations/0010_ai_replies.sql"),
                .embedInCode("Migrations/0011_conversation_list.sql"),
                .embedInCode("Migrations/0012_reply_answers_through.sql"),
                .embedInCode("Migrations/0013_usage_indexes.sql"),
                .embedInCode("Migrations/0014_schedules.sql"),
                .embedInCode("Migrations/0015_campaign_launch_at.sql"),
                .embedInCode("Migrations/0016_calendars.sql"),
                .embedInCode("Migrations/0017_reminders.sql"),
                .embedInCode("Migrations/0018_dashboard_lists.sql"),
                .embedInCode("Migrations/0019_campaign_counts.sql"),
            ]
        ),
        .target(
            name: "SpoolRedis",
            dependencies: [
                "CHiredis", "COpenSSL", "SpoolSupport",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "SpoolQueue",
            dependencies: [
                "SpoolRedis", "SpoolSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            resources: [
                .embedInCode("Scripts/lanes.lua"),
                .embedInCode("Scripts/enqueue.lua"),
                .embedInCode("Scripts/wait_for_limit.lua"),
                .embedInCode("Scripts/release_limited.lua"),
                .embedInCode("Scripts/limit_acquire.lua"),
                .embedInCode("Scripts/limit_refund.lua"),
                .embedInCode("Scripts/limit_release.lua"),
                .embedInCode("Scripts/limit_pause.lua"),
                .embedInCode("Scripts/quota_alert.lua"),
                .embedInCode("Scripts/fetch.lua"),
                .embedInCode("Scripts/complete.lua"),
                .embedInCode("Scripts/ack.lua"),
                .embedInCode("Scripts/retry.lua"),
                .embedInCode("Scripts/snooze.lua"),
                .embedInCode("Scripts/kill.lua"),
                .embedInCode("Scripts/requeue.lua"),
                .embedInCode("Scripts/extend.lua"),
                .embedInCode("Scripts/recover.lua"),
                .embedInCode("Scripts/promote.lua"),
                .embedInCode("Scripts/cancel.lua"),
                .embedInCode("Scripts/dead_retry.lua"),
                .embedInCode("Scripts/dead_discard.lua"),
                .embedInCode("Scripts/trim_dead.lua"),
                .embedInCode("Scripts/trim_completed.lua"),
                .embedInCode("Scripts/unpark.lua"),
            ]
        ),
        .target(
            name: "SpoolStore",
            dependencies: [
                "SpoolPostgres", "SpoolQueue", "SpoolSMS", "SpoolSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "SpoolAPI",
            dependencies: [
                "SpoolQueue", "SpoolStore", "SpoolPostgres", "SpoolRedis", "SpoolSMS", "SpoolSupport", "SpoolHTTP",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Mustache", package: "swift-mustache"),
            ],
            resources: [
                .embedInCode("openapi.json"),
                .embedInCode("Dashboard/Templates/layout.mustache"),
                .embedInCode("Dashboard/Templates/login.mustache"),
                .embedInCode("Dashboard/Templates/refused.mustache"),
                .embedInCode("Dashboard/Templates/overview.mustache"),
                .embedInCode("Dashboard/Templates/tenant_overview.mustache"),
                .embedInCode("Dashboard/Templates/queues.mustache"),
                .embedInCode("Dashboard/Templates/jobs.mustache"),
                .embedInCode("Dashboard/Templates/job.mustache"),
                .embedInCode("Dashboard/Templates/bulk.mustache"),
                .embedInCode("Dashboard/Templates/workers.mustache"),
                .embedInCode("Dashboard/Templates/limits.mustache"),
                .embedInCode("Dashboard/Templates/schedules.mustache"),
                .embedInCode("Dashboard/Templates/tenants.mustache"),
                .embedInCode("Dashboard/Templates/confirmation.mustache"),
                .embedInCode("Dashboard/Templates/campaigns.mustache"),
                .embedInCode("Dashboard/Templates/campaign.mustache"),
                .embedInCode("Dashboard/Templates/campaign_cancel.mustache"),
                .embedInCode("Dashboard/Templates/conversations.mustache"),
                .embedInCode("Dashboard/Templates/conversation.mustache"),
                .embedInCode("Dashboard/Templates/calendars.mustache"),
                .embedInCode("Dashboard/Assets/dashboard.css"),
                .embedInCode("Dashboard/Assets/dashboard.js"),
                .embedInCode("Dashboard/live_counts.lua"),
            ]
        ),
        .target(name: "SpoolClient", dependencies: ["SpoolQueue", "SpoolRedis", "SpoolSupport"]),
        .target(
            name: "SpoolJobs",
            dependencies: ["SpoolQueue", "SpoolRedis", "SpoolHTTP", "SpoolPostgres", "SpoolSMS", "SpoolStore"],
            resources: [.embedInCode("CalendarSync/release_token_lock.lua")]
        ),
        .executableTarget(
            name: "spool",
            dependencies: [
                "SpoolQueue", "SpoolJobs", "SpoolRedis", "SpoolSupport", "SpoolSMS", "SpoolPostgres", "SpoolStore",
                "SpoolHTTP", "SpoolSandbox", "SpoolAPI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "TestSupport",
            dependencies: ["SpoolRedis", "SpoolQueue", "SpoolSupport", "SpoolPostgres", "SpoolHTTP", "SpoolSandbox"],
            path: "Tests/TestSupport"
        ),
        .testTarget(name: "SpoolSupportTests", dependencies: ["SpoolSupport"]),
        .testTarget(
            name: "SpoolSMSTests", dependencies: ["SpoolSMS", "SpoolSupport"],
            exclude: ["Fixtures"]  // read from the source tree by path (#filePath), not bundled
        ),
        .testTarget(name: "SpoolRedisTests", dependencies: ["SpoolRedis", "SpoolSupport", "TestSupport"]),
        .testTarget(name: "SpoolPostgresTests", dependencies: ["SpoolPostgres", "SpoolSupport", "TestSupport"]),
        .testTarget(
            name: "SpoolStoreTests",
            dependencies: ["SpoolStore", "SpoolSMS", "SpoolSupport", "SpoolPostgres", "SpoolQueue", "SpoolJobs", "SpoolHTTP", "TestSupport"]),
        .testTarget(name: "SpoolQueueTests", dependencies: ["SpoolQueue", "SpoolSupport", "SpoolJobs", "SpoolRedis", "TestSupport"]),
        .testTarget(name: "SpoolHTTPTests", dependencies: ["SpoolHTTP", "SpoolSupport", "TestSupport"]),
        .testTarget(
            name: "SpoolSandboxTests",
            dependencies: [
                "SpoolSandbox", "SpoolHTTP", "SpoolSupport", "TestSupport", .product(name: "Hummingbird", package: "hummingbird"),
            ]
        ),
        .testTarget(
            name: "SpoolJobsTests",
            dependencies: ["SpoolJobs", "SpoolQueue", "SpoolHTTP", "SpoolStore", "SpoolSMS", "SpoolRedis", "SpoolSupport", "TestSupport"]),
        .testTarget(
            name: "SpoolAPITests",
            dependencies: [
                "SpoolAPI", "SpoolClient", "SpoolStore", "SpoolQueue", "SpoolJobs", "SpoolPostgres", "SpoolHTTP", "SpoolSMS",
                "SpoolSupport", "TestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"), .product(name: "HTTPTypes", package: "swift-http-types"),
            ]
        ),
        .testTarget(name: "EndToEndTests", dependencies: ["SpoolQueue", "SpoolRedis", "SpoolSupport", "TestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
