import SpoolSupport
import Testing

@testable import SpoolQueue

/// A kind's Swift argument type against its declaration, at start.
@Suite struct ArgumentsCheckTests {
    struct Typed: Decodable, Sendable {
        enum Mode: String, Decodable, Sendable, CaseIterable { case a, b }
        let to: String
        let count: Int?
        let mode: Mode?
        let items: [String]?
    }

    static func spec(_ args: String) throws -> JobKindSpec {
        try JobKindCatalog.parse(#"{"kind": "typed", "args": \#(args)}"#, file: "Jobs/typed.json")
    }

    @Test func theProbeSeesEveryTopLevelFieldWithItsTypeAndOptionality() {
        #expect(
            ArgumentsCheck.fields(of: Typed.self) == [
                "to": .init(type: .string, optional: false), "count": .init(type: .integer, optional: true),
                "mode": .init(type: .string, optional: true), "items": .init(type: .array, optional: true),
            ])
    }

    @Test func aMatchingDeclarationPasses() throws {
        let spec = try Self.spec(
            #"{"to": {"type": "string", "required": true}, "count": {"type": "integer"}, "mode": {"type": "string"}, "items": {"type": "array"}}"#
        )
        try ArgumentsCheck.check(Typed.self, against: spec, file: "Jobs/typed.json")
        // Optional fields it reads may be left out of the declaration.
        try ArgumentsCheck.check(
            Typed.self, against: try Self.spec(#"{"to": {"type": "string", "required": true}}"#), file: "Jobs/typed.json")
    }

    @Test(arguments: [
        (
            #"{"count": {"type": "integer"}, "mode": {"type": "string"}, "items": {"type": "array"}}"#,
            "Jobs/typed.json: field 'args.to': Typed needs it, but the declaration does not declare it"
        ),
        (
            #"{"to": {"type": "string", "required": true}, "count": {"type": "string"}, "mode": {"type": "string"}, "items": {"type": "array"}}"#,
            "Jobs/typed.json: field 'args.count': declared string, but Typed reads it as integer"
        ),
        (
            #"{"to": {"type": "string"}, "count": {"type": "integer"}, "mode": {"type": "string"}, "items": {"type": "array"}}"#,
            "Jobs/typed.json: field 'args.to': Typed needs it, but the declaration does not make it required"
        ),
    ])
    func aDisagreementStopsTheProcessNamingFileAndField(args: String, message: String) throws {
        let spec = try Self.spec(args)
        #expect {
            try ArgumentsCheck.check(Typed.self, against: spec, file: "Jobs/typed.json")
        } throws: { error in
            "\(error)" == message
        }
    }
}
