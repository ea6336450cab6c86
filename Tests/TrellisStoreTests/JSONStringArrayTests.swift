import Testing

@testable import TrellisStore

@Suite("JSON arrays of strings")
struct JSONStringArrayTests {
    @Test(
        "strings with quotes, escapes, controls and non-ASCII round-trip",
        arguments: [
            [], [""], ["password"], ["a\"b", "back\\slash", "tab\tnew\nline", "\u{01}", "ünï", "😀"],
        ])
    func roundTrip(strings: [String]) {
        #expect(JSONStringArray.decode(JSONStringArray.encode(strings)) == strings)
    }

    @Test("escapes written by other encoders decode")
    func foreignEscapes() {
        #expect(JSONStringArray.decode(#" [ "\u00e9\/" , "\ud83d\ude00" ] "#) == ["é/", "😀"])
    }

    @Test(
        "text that is not an array of strings is refused",
        arguments: [
            "", "[", "[1]", "[\"a\",]", "{\"a\":1}", "[\"a\"] x", "[\"\\ud83d\"]", "[\"\\q\"]",
        ])
    func refuses(text: String) {
        #expect(JSONStringArray.decode(text) == nil)
    }
}
