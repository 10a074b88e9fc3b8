import Foundation
import SpoolQueue
import SpoolRedis
import SpoolSupport
import Testing

@Suite struct SpoolSettingsTests {
    func write(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("spool-\(UUID().uuidString).json").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func environmentOverridesTheFile() throws {
        let path = try write(
            #"{"redis_url": "redis://10.0.0.1:7000/2", "worker": {"concurrency": 7, "lease_seconds": 9}, "queues": {"sms": {"weight": 4}}}"#
        )
        let settings = try SpoolSettings.load(
            configPath: path, environment: ["REDIS_URL": "redis://127.0.0.1:6390/1", "SPOOL_LEASE_MS": "1500"])
        #expect(settings.redisURL == RedisURL(host: "127.0.0.1", port: 6390, database: 1))
        #expect(settings.concurrency == 7)
        #expect(settings.lease == .milliseconds(1500))
        #expect(settings.queueWeights == ["sms": 4])
    }

    @Test func tlsFilesGoIntoARedissURLAndAreRefusedForAPlainOne() throws {
        let none = try write("{}")
        let tls = try SpoolSettings.load(
            configPath: none,
            environment: [
                "REDIS_URL": "rediss://cache.internal:6380", "SPOOL_REDIS_TLS_CA": "/etc/ca.pem",
                "SPOOL_REDIS_TLS_CERT": "/etc/client.pem", "SPOOL_REDIS_TLS_KEY": "/etc/client.key",
            ])
        #expect(tls.redisURL.tls == RedisTLS(caFile: "/etc/ca.pem", certificateFile: "/etc/client.pem", keyFile: "/etc/client.key"))
        #expect(try SpoolSettings.load(configPath: none, environment: ["REDIS_URL": "rediss://h:1"]).redisURL.tls == RedisTLS())
        #expect {
            try SpoolSettings.load(configPath: none, environment: ["REDIS_URL": "redis://h:1", "SPOOL_REDIS_TLS_CA": "/etc/ca.pem"])
        } throws: { "\($0)".contains("SPOOL_REDIS_TLS_CA is set but REDIS_URL 'redis://h:1/0' is not TLS") }
        #expect {
            try SpoolSettings.load(configPath: none, environment: ["REDIS_URL": "rediss://h:1", "SPOOL_REDIS_TLS_KEY": "/etc/k"])
        } throws: { "\($0)".contains("SPOOL_REDIS_TLS_KEY is set without its pair") }
    }

    @Test func flagsOverrideTheEnvironmentAndSaySo() throws {
        let path = try write(#"{"worker": {"concurrency": 7}, "log_level": "debug"}"#)
        let settings = try SpoolSettings.load(
            configPath: path, environment: ["SPOOL_CONCURRENCY": "12"], flags: [.concurrency(30), .logLevel("warning")])
        #expect(settings.concurrency == 30 && settings.logLevel == "warning")
        let sources = Dictionary(uniqueKeysWithValues: settings.entries.map { ($0.name, $0.source) })
        #expect(sources["worker.concurrency"] == "flag --concurrency")
        #expect(sources["log_level"] == "flag --log-level")
        #expect(throws: SpoolConfigError.self) { try SpoolSettings.load(configPath: path, environment: [:], flags: [.concurrency(0)]) }
        #expect {
            try SpoolSettings.load(configPath: path, environment: [:], flags: [.logLevel("loud")])
        } throws: { "\($0)".contains("--log-level='loud'") }
    }

    @Test(arguments: [
        (["SPOOL_CONCURRENCY": "lots"], "SPOOL_CONCURRENCY='lots': expected a whole number from 1 to 10000"),
        (["REDIS_URL": "localhost:6379"], "REDIS_URL 'localhost:6379': unknown scheme; expected redis://"),
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

    /// A brace in the key prefix would replace every queue's {tag} in Redis Cluster: refused at load,
    /// naming the variable or field and the value.
    @Test func aKeyPrefixWithABraceIsRefused() throws {
        let none = try write("{}")
        for prefix in ["app{x}", "app{", "}app"] {
            #expect {
                try SpoolSettings.load(configPath: none, environment: ["SPOOL_KEY_PREFIX": prefix])
            } throws: { "\($0)".hasPrefix("SPOOL_KEY_PREFIX='\(prefix)': a key prefix may not contain '{' or '}'") }
        }
        let file = try write(#"{"key_prefix": "tenant{a}"}"#)
        #expect {
            try SpoolSettings.load(configPath: file, environment: [:])
        } throws: { "\($0)".hasPrefix("\(file): field 'key_prefix'='tenant{a}': a key prefix may not contain") }
        #expect(try SpoolSettings.load(configPath: none, environment: ["SPOOL_KEY_PREFIX": "app:eu-1"]).keys.prefix == "app:eu-1")
    }
}

/// The static schedules file: the default may be missing, a file named in the config or the
/// environment may not (the reconcile says so); the environment wins over the file.
@Suite struct SchedulesFileSettingTests {
    @Test func theSchedulesFileIsTheDefaultUntilNamed() throws {
        let defaults = try SpoolSettings.load(configPath: nil, environment: [:])
        #expect(defaults.schedulesFile == "config/schedules.json" && defaults.schedulesFileIsDefault)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("spool-\(UUID().uuidString).json").path
        try #"{"schedules_file": "ops/schedules.json"}"#.write(toFile: path, atomically: true, encoding: .utf8)
        let named = try SpoolSettings.load(configPath: path, environment: [:])
        #expect(named.schedulesFile == "ops/schedules.json" && !named.schedulesFileIsDefault)
        let overridden = try SpoolSettings.load(configPath: path, environment: ["SPOOL_SCHEDULES_FILE": "/etc/spool/schedules.json"])
        #expect(overridden.schedulesFile == "/etc/spool/schedules.json")
        let entries = Dictionary(uniqueKeysWithValues: overridden.entries.map { ($0.name, ($0.value, $0.source)) })
        #expect(entries["schedules_file"]! == ("/etc/spool/schedules.json", "SPOOL_SCHEDULES_FILE"))
    }
}

/// One settings type: every setting listed with where it came from, secrets hidden.
@Suite struct SpoolSettingsSourcesTests {
    @Test func everySettingSaysWhereItCameFromAndSecretsAreHidden() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("spool-\(UUID().uuidString).json").path
        try #"{"worker": {"concurrency": 7}, "sms": {"segment_cents": 2}, "sandbox": {"url": "http://127.0.0.1:4010"}}"#
            .write(toFile: path, atomically: true, encoding: .utf8)
        let settings = try SpoolSettings.load(
            configPath: path,
            environment: [
                "SPOOL_CONCURRENCY": "9", "DATABASE_URL": "postgres://spool:hunter2@db:5432/spool",
                "SPOOL_OPERATOR_KEY": "operator-key-0123456789abcdef", "TWILIO_AUTH_TOKEN": "tok", "TWILIO_ACCOUNT_SID": "AC1",
            ])
        let entries = Dictionary(uniqueKeysWithValues: settings.entries.map { ($0.name, ($0.value, $0.source)) })
        #expect(entries["worker.concurrency"]! == ("9", "SPOOL_CONCURRENCY"))
        #expect(entries["sms.segment_cents"]! == ("2", path))
        #expect(entries["sandbox.url"]! == ("http://127.0.0.1:4010", path))
        #expect(entries["sms.default_region"]! == ("US", "default"))
        #expect(entries["postgres.url"]! == ("postgres://spool:***@db:5432/spool", "DATABASE_URL"))
        #expect(entries["api.operator_key"]! == ("***", "SPOOL_OPERATOR_KEY"))
        #expect(entries["providers.twilio.auth_token"]! == ("***", "TWILIO_AUTH_TOKEN"))
        #expect(!settings.entries.contains { $0.value.contains("hunter2") || $0.value.contains("tok") && $0.name.hasSuffix("token") })
        #expect(settings.warnings.isEmpty)
    }

    @Test(arguments: [
        (["SPOOL_OPERATOR_KEY": "short"], "SPOOL_OPERATOR_KEY: must be at least 24 characters, got 5"),
        (["SPOOL_SMS_SEGMENT_CENTS": "a lot"], "SPOOL_SMS_SEGMENT_CENTS='a lot': expected a whole number from 0 to 10000"),
        (["SPOOL_DEFAULT_REGION": "XX"], "SPOOL_DEFAULT_REGION='XX': expected one of"),
        (["SPOOL_SANDBOX_URL": "127.0.0.1:4010"], "SPOOL_SANDBOX_URL='127.0.0.1:4010': expected an http:// or https:// URL"),
    ])
    func badProviderAndAPIValuesNameTheVariable(environment: [String: String], message: String) {
        #expect {
            try SpoolSettings.load(configPath: nil, environment: environment)
        } throws: { error in
            "\(error)".hasPrefix(message)
        }
    }

    @Test func aDeploymentWithoutKeysOrProvidersIsWarnedAbout() throws {
        let settings = try SpoolSettings.load(configPath: nil, environment: [:])
        #expect(settings.warnings.contains { $0.hasPrefix("api.operator_key: unset") })
        #expect(settings.warnings.contains { $0.hasPrefix("providers.twilio: no credentials") })
    }
}
