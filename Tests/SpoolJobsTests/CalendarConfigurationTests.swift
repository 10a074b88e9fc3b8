import Foundation
import SpoolQueue
import SpoolStore
import SpoolSupport
import Testing

/// The calendar kind's settings: the secret key and its rotation, the Google client, the sandbox rule.
@Suite struct CalendarConfigurationTests {
    private static let key = Data([UInt8](0..<32)).base64EncodedString()
    private static let previous = Data([UInt8](32..<64)).base64EncodedString()

    @Test func googleFollowsTheSettingsAndTheSandboxRule() throws {
        let none = try SpoolSettings.load(configPath: nil, environment: [:])
        #expect(GoogleConfiguration.from(none) == nil)
        #expect(none.warnings.contains { $0.hasPrefix("providers.google: no OAuth client") })

        let sandbox = try SpoolSettings.load(configPath: nil, environment: ["SPOOL_SANDBOX_URL": "http://127.0.0.1:4010/"])
        let fromSandbox = try #require(GoogleConfiguration.from(sandbox))
        #expect(fromSandbox.usesSandbox && fromSandbox.clientID == GoogleConfiguration.sandboxClientID)
        #expect(fromSandbox.authURL == "http://127.0.0.1:4010/o/oauth2/v2/auth")
        #expect(fromSandbox.tokenURL == "http://127.0.0.1:4010/token")
        #expect(fromSandbox.calendarURL == "http://127.0.0.1:4010/calendar/v3")
        #expect(fromSandbox.syncEvery == .seconds(300) && fromSandbox.redirectURL == nil)
        #expect(sandbox.warnings.allSatisfy { !$0.hasPrefix("providers.google") && !$0.hasPrefix("security.secret_key") })

        // Real credentials never fall back to the sandbox, even in sandbox mode.
        let real = try SpoolSettings.load(
            configPath: nil,
            environment: [
                "SPOOL_GOOGLE_CLIENT_ID": "123.apps.googleusercontent.com", "SPOOL_GOOGLE_CLIENT_SECRET": "GOCSPX-secret",
                "SPOOL_SANDBOX_URL": "http://127.0.0.1:4010", "SPOOL_CALENDAR_SYNC_EVERY": "2m30s",
                "SPOOL_CALENDAR_REDIRECT_URL": "https://spool.example.com/v1/calendars/callback",
            ])
        let configured = try #require(GoogleConfiguration.from(real))
        #expect(!configured.usesSandbox && configured.clientSecret == "GOCSPX-secret")
        #expect(configured.authURL == "https://accounts.google.com/o/oauth2/v2/auth")
        #expect(configured.tokenURL == "https://oauth2.googleapis.com/token")
        #expect(configured.calendarURL == "https://www.googleapis.com/calendar/v3")
        #expect(configured.syncEvery == .seconds(150))
        #expect(configured.redirectURL == "https://spool.example.com/v1/calendars/callback")
        let entries = Dictionary(uniqueKeysWithValues: real.entries.map { ($0.name, ($0.value, $0.source)) })
        #expect(entries["providers.google.client_secret"]! == ("***", "SPOOL_GOOGLE_CLIENT_SECRET"))
        #expect(entries["calendar.sync_every"]! == ("2m30s", "SPOOL_CALENDAR_SYNC_EVERY"))
        #expect(!real.entries.contains { $0.value.contains("GOCSPX-secret") })
    }

    @Test func theURLsAndTheIntervalComeFromTheFileToo() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("spool-\(UUID().uuidString).json").path
        try #"{"providers": {"google": {"token_url": "http://10.0.0.5:9000/token"}}, "calendar": {"sync_every": "1h"}}"#
            .write(toFile: path, atomically: true, encoding: .utf8)
        let settings = try SpoolSettings.load(configPath: path, environment: [:])
        #expect(settings.googleTokenURL == "http://10.0.0.5:9000/token" && settings.calendarSyncEvery == .seconds(3600))
        let entries = Dictionary(uniqueKeysWithValues: settings.entries.map { ($0.name, ($0.value, $0.source)) })
        #expect(entries["providers.google.token_url"]! == ("http://10.0.0.5:9000/token", path))
        #expect(entries["calendar.sync_every"]! == ("1h", path))
    }

    @Test func theSecretKeyIsRedactedAndRotates() throws {
        let settings = try SpoolSettings.load(
            configPath: nil, environment: ["SPOOL_SECRET_KEY": Self.key, "SPOOL_SECRET_KEYS_PREVIOUS": " \(Self.previous) ,"])
        let box = try settings.secretBox()
        let keyID = try SecretKey(base64: Self.key).id
        let previousID = try SecretKey(base64: Self.previous).id
        #expect(box.current.id == keyID && box.previous.map(\.id) == [previousID] && !box.usesSandboxKey)
        let entries = Dictionary(uniqueKeysWithValues: settings.entries.map { ($0.name, ($0.value, $0.source)) })
        #expect(entries["security.secret_key"]! == ("*** (id \(keyID))", "SPOOL_SECRET_KEY"))
        #expect(entries["security.previous_secret_keys"]! == ("*** (id \(previousID))", "SPOOL_SECRET_KEYS_PREVIOUS"))
        #expect(!settings.entries.contains { $0.value.contains(Self.key) || $0.value.contains(Self.previous) })
        #expect(!settings.warnings.contains { $0.hasPrefix("security.secret_key") })

        // A value sealed with the previous key opens with the settings' box.
        let sealed = SecretBox(current: try SecretKey(base64: Self.previous)).seal("token", context: "calendar:c1:refresh")
        #expect(try box.open(sealed, context: "calendar:c1:refresh") == "token" && box.needsResealing(sealed))
    }

    @Test func withoutAKeyTokensCannotBeStoredOutsideTheSandboxMode() throws {
        let none = try SpoolSettings.load(configPath: nil, environment: [:])
        #expect(throws: SecretBoxError.noKey) { try none.secretBox() }
        #expect(none.warnings.contains { $0.hasPrefix("security.secret_key: unset (SPOOL_SECRET_KEY)") })
        let sandbox = try SpoolSettings.load(configPath: nil, environment: ["SPOOL_SANDBOX_URL": "http://127.0.0.1:4010"])
        #expect(try sandbox.secretBox().usesSandboxKey)
    }

    @Test(arguments: [
        (["SPOOL_SECRET_KEY": "c2hvcnQ="], "SPOOL_SECRET_KEY: decodes to 5 bytes; an AES-256 key is 32 bytes"),
        (["SPOOL_SECRET_KEY": "%%%"], "SPOOL_SECRET_KEY: is not base64"),
        (["SPOOL_SECRET_KEYS_PREVIOUS": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=,c2hvcnQ="], "SPOOL_SECRET_KEYS_PREVIOUS: key 2 of 2 decodes to 5 bytes"),
        (["SPOOL_GOOGLE_TOKEN_URL": "oauth2.googleapis.com/token"], "SPOOL_GOOGLE_TOKEN_URL='oauth2.googleapis.com/token': expected an http"),
        (["SPOOL_CALENDAR_SYNC_EVERY": "5 minutes"], "SPOOL_CALENDAR_SYNC_EVERY='5 minutes': "),
        (["SPOOL_CALENDAR_SYNC_EVERY": "5s"], "SPOOL_CALENDAR_SYNC_EVERY='5s': expected an interval from 10s to 1d"),
    ])
    func badValuesNameTheVariableAndNeverTheKey(environment: [String: String], message: String) {
        #expect {
            try SpoolSettings.load(configPath: nil, environment: environment)
        } throws: { error in
            "\(error)".hasPrefix(message) && !"\(error)".contains("c2hvcnQ")
        }
    }
}
