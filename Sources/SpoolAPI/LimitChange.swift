import SpoolQueue
import SpoolSupport

/// A run-time limit to set: a limit key or a declared template, and what it allows. `PUT /v1/limits`
/// reads it from its JSON body and the dashboard's limit form from its fields, both with `parse`, so
/// the two accept and refuse the same values with the same messages.
struct LimitChange: Sendable, Equatable {
    let key: String
    let spec: LimitSpec

    /// A limit's own fields, besides `key`.
    static let specFields = ["rate", "per", "burst", "concurrency", "quota"]

    /// Why a change was refused. `field` names what to fix: `key`, one of `specFields`, or `limit`
    /// when the limit as a whole is wrong (none, or two, of rate, concurrency and quota).
    struct Refusal: Error, Sendable, Equatable {
        let field: String
        let message: String

        /// As the API answers it: 422 naming `key` or `limit`.
        var apiError: APIError { APIError.invalid(field == "key" ? "key" : "limit", message) }
    }

    /// Reads `{"key": "sms:sender:{from}", "rate": 5, "per": "second", "burst": 2}`, or `concurrency`,
    /// or `quota` and `per`. `place` names the object in messages about the limit's fields
    /// (`body.rate: expected an integer in 1...1000000000, got 0`).
    static func parse(_ object: JSONValue, at place: String) throws(Refusal) -> LimitChange {
        guard let key = object["key"]?.stringValue else {
            throw Refusal(field: "key", message: "key: required, a limit key or a declared template such as sms:sender:{from}")
        }
        do {
            _ = try LimitKeyTemplate(key, at: "key")
            return LimitChange(key: key, spec: try LimitSpec.parse(object, at: place, extra: ["key"]))
        } catch let error as SpoolConfigError {
            throw Refusal(field: field(of: error.message, at: place), message: error.message)
        } catch {
            throw Refusal(field: "limit", message: "\(place): \(error)")
        }
    }

    /// The field a message is about: `key: ...` is the key's, `body.rate: ...` the rate's, and
    /// `body: ...` the limit's as a whole.
    static func field(of message: String, at place: String) -> String {
        if message.hasPrefix("key") { return "key" }
        guard message.hasPrefix(place + ".") else { return "limit" }
        let name = String(message.dropFirst(place.count + 1).prefix { $0 != ":" })
        return specFields.contains(name) ? name : "limit"
    }
}
