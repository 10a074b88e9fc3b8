import SpoolSupport
import Testing

@Suite struct JSONValueTextTests {
    @Test func writesCompactSortedAndEscapedJSONThatParsesBack() throws {
        let value = JSONValue.object([
            "b": .array([.number(1), .number(-2.5), .bool(true), .null]), "a": .string("quote \" slash \\ line\n tab\t bell\u{07} é ✓"),
            "c": .object([:]), "big": .number(1e20),
        ])
        #expect(value.text == #"{"a":"quote \" slash \\ line\n tab\t bell\u0007 é ✓","b":[1,-2.5,true,null],"big":1e+20,"c":{}}"#)
        #expect(try JSONValue.parse(value.text) == value)
    }
}
