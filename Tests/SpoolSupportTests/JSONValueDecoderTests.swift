import SpoolSupport
import Testing

@Suite struct JSONValueDecoderTests {
    struct Arguments: Decodable, Equatable {
        enum Mode: String, Decodable, CaseIterable { case fast, slow }
        struct Step: Decodable, Equatable { let kind: String; let delay: Double? }
        let id: String
        let count: Int
        let ratio: Double?
        let mode: Mode?
        let steps: [Step]?
        let extra: JSONValue?
    }

    @Test func decodesTypedArgumentsFromAParsedValue() throws {
        let value = try JSONValue.parse(
            #"{"id":"m1","count":3,"ratio":0.5,"mode":"slow","steps":[{"kind":"a"},{"kind":"b","delay":1.5}],"extra":{"x":[1,"y"]}}"#)
        let decoded = try JSONValueDecoder().decode(Arguments.self, from: value)
        #expect(
            decoded
                == Arguments(
                    id: "m1", count: 3, ratio: 0.5, mode: .slow, steps: [.init(kind: "a", delay: nil), .init(kind: "b", delay: 1.5)],
                    extra: .object(["x": .array([.number(1), .string("y")])])))
    }

    /// Every failure names the field as the rest of Spool does (`args.<field>`).
    @Test(arguments: [
        (#"{"count":3}"#, "args.id: required, missing"),
        (#"{"id":"m1","count":"3"}"#, "args.count: expected an integer, got string"),
        (#"{"id":"m1","count":2.5}"#, "args.count: expected an integer, got number 2.5"),
        (#"{"id":"m1","count":null}"#, "args.count: required, got null"),
        (#"{"id":"m1","count":1,"steps":[{"kind":"a"},{"delay":1}]}"#, "args.steps[1].kind: required, missing"),
        (#"{"id":"m1","count":1,"mode":"warp"}"#, "args.mode: "),
    ])
    func failuresNameTheField(json: String, message: String) throws {
        let value = try JSONValue.parse(json)
        #expect {
            try JSONValueDecoder().decode(Arguments.self, from: value)
        } throws: { error in
            JSONValueDecoder.describe(error).hasPrefix(message)
        }
    }
}
