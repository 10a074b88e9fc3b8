// swift-tools-version:6.0
import PackageDescription

// Spool: a job-queue worker system backed by Redis.
// C libraries come in through system-library targets; only SpoolRedis imports CHiredis.
let package = Package(
    name: "spool",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "spool", targets: ["spool"]),
        .library(name: "SpoolQueue", targets: ["SpoolQueue"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
    ],
    targets: [
        .systemLibrary(name: "CHiredis", providers: [.apt(["libhiredis-dev"])]),
        .target(name: "SpoolSupport"),
        .systemLibrary(name: "CLibpq", providers: [.apt(["libpq-dev"])]),
        .target(
            name: "SpoolPostgres",
            dependencies: ["CLibpq", "SpoolSupport", .product(name: "Logging", package: "swift-log")],
            resources: [.embedInCode("Migrations/0001_job_results.sql")]
        ),
        .target(
            name: "SpoolRedis",
            dependencies: [
                "CHiredis", "SpoolSupport",
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
                .embedInCode("Scripts/enqueue.lua"),
                .embedInCode("Scripts/fetch.lua"),
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
            ]
        ),
        .target(
            name: "SpoolStore",
            dependencies: ["SpoolPostgres", "SpoolQueue", "SpoolSupport",
                           .product(name: "Logging", package: "swift-log"),
                           .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")]
        ),
        .target(
            name: "SpoolJobs",
            dependencies: ["SpoolQueue", "SpoolRedis"]
        ),
        .executableTarget(
            name: "spool",
            dependencies: [
                "SpoolQueue", "SpoolJobs", "SpoolRedis", "SpoolSupport", "SpoolPostgres", "SpoolStore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "TestSupport",
            dependencies: ["SpoolRedis", "SpoolQueue", "SpoolSupport", "SpoolPostgres"],
            path: "Tests/TestSupport"
        ),
        .testTarget(name: "SpoolRedisTests", dependencies: ["SpoolRedis", "SpoolSupport", "TestSupport"]),
        .testTarget(name: "SpoolPostgresTests", dependencies: ["SpoolPostgres", "SpoolSupport", "TestSupport"]),
        .testTarget(name: "SpoolStoreTests", dependencies: ["SpoolStore", "SpoolPostgres", "SpoolQueue", "SpoolJobs", "TestSupport"]),
        .testTarget(name: "SpoolQueueTests", dependencies: ["SpoolQueue", "SpoolJobs", "SpoolRedis", "TestSupport"]),
        .testTarget(name: "EndToEndTests", dependencies: ["SpoolQueue", "SpoolRedis", "SpoolSupport", "TestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
