import SpoolSupport
import Foundation
import SpoolQueue
import SpoolRedis
import Testing

@Suite struct SpoolSettingsTests {
    func write(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("spool-\(UUID().uuidString).json").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func environmentOverridesTheFile() throws {
        let path = try write(#"{"redis_url": "redis://10.0.0.1:7000/2", "worker": {"concurrency": 7, "lease_seconds": 9}, "queues": {"sms": {"weight": 4}}}"#)
        let settings = try SpoolSettings.load(configPath: path, environment: ["REDIS_URL": "redis://127.0.0.1:6390/1", "SPOOL_LEASE_MS": "1500"])
        #expect(settings.redisURL == RedisURL(host: "127.0.0.1", port: 6390, database: 1))
        #expect(settings.concurrency == 7)
        #expect(settings.lease == .milliseconds(1500))
        #expect(settings.queueWeights == ["sms": 4])
    }

    @Test(arguments: [
        (["SPOOL_CONCURRENCY": "lots"], "SPOOL_CONCURRENCY='lots': expected a whole number from 1 to 10000"),
        (["REDIS_URL": "localhost:6379"], "REDIS_URL 'localhost:6379': scheme must be redis://"),
        (["SPOOL_LOG_LEVEL": "loud"], "SPOOL_LOG_LEVEL='loud': expected one of"),
    ])
    func badEnvironmentValuesNameTheVariable(environment: [String: String], message: String) {
        #expect {
            try SpoolSettings.load(configPath: nil, environment: environment.merging(["SPOOL_CONFIG": "/dev/null/none"]) { a, _ in a })
        } throws: { error in
            // The missing config file is reported first when named; load without it to reach the variable.
            "\(error)".contains("config file not found")
        }
        #expect {
            try SpoolSettings.load(configPath: nil, environment: environment)
        } throws: { error in
            "\(error)".hasPrefix(message)
        }
    }

    @Test func badFileValuesNameTheField() throws {
        let path = try write(#"{"worker": {"concurrency": -1}}"#)
        #expect {
            try SpoolSettings.load(configPath: path, environment: [:])
        } throws: { error in
            "\(error)" == "\(path): field 'worker.concurrency': -1 is outside 1...10000"
        }
    }
}
