import Foundation
import Testing

@testable import TrellisDomain

/// The fast reader against libyaml: on every input it accepts, the same documents, values,
/// marks and errors; on everything else, nil.
@Suite("Reading the plain subset of YAML without libyaml")
struct FastYAMLReaderTests {
    /// A value with the marks of it and of everything in it, so that two trees compare
    /// marks too (`SpecValue`'s own equality ignores them).
    static func described(_ value: SpecValue) -> String {
        let mark = value.mark.map { "@\($0.line):\($0.column)" } ?? "@-"
        switch value.content {
        case .list(let items):
            return mark + "[" + items.map(described).joined(separator: ",") + "]"
        case .map(let map):
            let entries: [String] = map.map { key, value in key.debugDescription + ":" + described(value) }
            return mark + "{" + entries.joined(separator: ",") + "}"
        default:
            return mark + "(" + value.typeName + ")" + value.canonicalJSON
        }
    }

    static func described(_ read: (documents: [RawDocument], errors: [SpecError])) -> String {
        let documents = read.documents.map { "#\($0.index) " + described($0.root) }
        return (documents + read.errors.map(\.description)).joined(separator: "\n")
    }

    /// Whether the fast reader accepted `bytes`; an issue when what it read differs from
    /// libyaml's reading.
    @discardableResult
    static func agrees(
        _ bytes: [UInt8], limits: SpecLimits = .default, sourceLocation: SourceLocation = #_sourceLocation
    )
        -> Bool
    {
        guard let fast = FastYAMLReader(file: "t.yaml", limits: limits).read(bytes) else { return false }
        let slow = YAMLReader(file: "t.yaml", limits: limits).readWithLibYAML(bytes)
        let (fastText, slowText) = (described(fast), described(slow))
        #expect(
            fastText == slowText,
            "input \(String(decoding: bytes, as: UTF8.self).debugDescription)", sourceLocation: sourceLocation)
        return fastText == slowText
    }

    static let accepted: [String] = [
        "a: 1\n",
        "a: 1",
        "a:\n",
        "a:",
        "a:\nb: 2\n",
        "a:   \n  # note\nb: x y z  # trailing\n",
        "# only a comment\na: 1\n\n\n",
        "key with spaces: value with spaces\n",
        "a : 1\n",
        "url: http://localhost:8080/path?x=1#frag\n",
        "a: b#c\n",
        "a: -1\nb: -x\nc: ?x\nd: :x\n",
        "a: 'it''s'\nb: \"say \\\"hi\\\"\\n\\t\\u00e9\\x41\\U0001F600\\/\"\n",
        "'quoted key': 1\n\"double\": 2\n",
        "a: ''\nb: \"\"\n",
        "a:\n  b:\n    c: 1\n  d: 2\ne: 3\n",
        "list:\n- a\n- b\nnext: 1\n",
        "list:\n  - a\n  -   b\n  -\n  - c: 1\n    d: 2\n  - {x: 1}\n",
        "- a\n- b: 1\n  c: [1, 2]\n-\n  - x\n",
        "- \n  a: 1\n",
        "a: [1, 2, three, \"four\", 'five', {six: 6}, [7]]\n",
        "a: {b: 1, c: {d: [x, y]}, \"e\": f}\n",
        "a: []\nb: {}\nc: [ ]\nd: { }\n",
        "a: [1,\n  2,\n  3]\nb: {x: 1,\n  y: 2}\n",
        "a: [1, # one\n  2] # two\n",
        "{\"apiVersion\": \"trellis.dev/v1\", \"kind\": \"Template\",\n \"spec\": {\"n\": [1, 2.5, -3e2, true, null, \"x\\ny\"]}}\n",
        "{\n  \"a\":1,\n  \"b\":[true,false,null],\n  \"c\":{\"d\":\"e\"}\n}\n",
        "[1, 2, 3]\n",
        "hello\n",
        "\"hello\"\n",
        "---\na: 1\n---\nb: 2\n",
        "a: 1\n---\nb: 2\n",
        "--- # first\na: 1\n--- \n---\n",
        "---\n",
        "---\n# nothing\n",
        "  a: 1\n  b: 2\n",
        "a: 1\na: 2\n",
        "a: 0x1F\nb: 0o17\nc: 1.5\nd: .inf\ne: 99999999999999999999\nf: 1_000\ng: ~\nh: Null\ni: TRUE\nj: yes\n",
        "a: [x, y]   \nb: c   \n",
        "a: {b: c}  # c\n",
        "a: \"x\"  # c\n",
        "a: 'x'\n",
        "a: x:y\n",
        "a: x, y, [z]\n",
        "a: x [y] {z}\n",
        "a: {b: x:y, c: 'z'}\n",
        "a: {\"b\":x, \"c\" : y}\n",
        "a:\n  hello\nb: 1\n",
        "a:\n  [1, 2]\n",
        "\n\n  \n",
        "a: [---\n]\n",
        "a: |\n  line one\n    indented # not a comment\n\n  after an empty line\nb: 1\n",
        "a: |-\n  stripped\n\n\nb: |+\n  kept\n\n\nc: |\n  clipped\n\n",
        "- |\n  in a list\n- x\n",
        "a: | # header comment\n\n  after a leading empty line\n# a comment ends it\nb: 1\n",
        "a:\n  b: |\n    deeper\n  c: 2\n",
        "a: |\n  at the end without a line feed",
        "a: |\n  spaces after\n     \n  more\n",
    ]

    static let refused: [String] = [
        "a: &x 1\nb: *x\n",
        "a: !!str 1\n",
        "a: >\n  text\n",
        "a: |2\n  text\n",
        "a: |\nb: 1\n",
        "a: |\n\n    \n  text\n",
        "a: multi\n  line\n",
        "a: \"multi\n  line\"\n",
        "a:\tb\n",
        "a: 1\r\n",
        "a: caf\u{e9}\n",
        "\u{feff}a: 1\n",
        "? a\n: b\n",
        "[a]: b\n",
        "a: b: c\n",
        "a: - b\n",
        "- - a\n",
        "...\n",
        "%YAML 1.2\n---\na: 1\n",
        "a: [1, 2,]\n",
        "a: {b}\n",
        "a: {b: }\n",
        "a: [b\n  c]\n",
        "a: \"\\uD83D\\uDE00\"\n",
        "a: \"\\q\"\n",
        "a: \"\\'\"\n",
        "a: 1\n b: 2\n",
        "a:\n  - x\n  y: 1\n",
        "a: 1\n- x\n",
        "a: \"x\"#c\n",
        "--- a: 1\n",
        "a: @x\n",
        "a: {type:?noop b: c}\n",
        "a: {b: ?x}\n",
        "a: [:x]\n",
        "a: `x`\n",
    ]

    @Test("spec files in the subset read as libyaml reads them, marks and errors included")
    func acceptedInputs() {
        for text in Self.accepted {
            #expect(Self.agrees(Array(text.utf8)), "not accepted: \(text.debugDescription)")
        }
    }

    @Test("inputs outside the subset are left to libyaml")
    func refusedInputs() {
        for text in Self.refused {
            #expect(
                FastYAMLReader(file: "t.yaml", limits: .default).read(Array(text.utf8)) == nil,
                "accepted: \(text.debugDescription)")
        }
    }

    @Test("the examples and a generated template read without libyaml, as libyaml reads them")
    func examples() throws {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "../../examples"
        ).standardized
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter {
            $0.hasSuffix(".yaml")
        }
        #expect(!files.isEmpty)
        for file in files {
            let bytes = Array(try Data(contentsOf: directory.appendingPathComponent(file)))
            #expect(Self.agrees(bytes), "not accepted: \(file)")
        }
        var text = "apiVersion: trellis.dev/v1\nkind: Template\nmetadata: {name: big}\nspec:\n  resources:\n"
        for node in 0..<500 {
            text += "    r\(node): {type: noop, params: {delay: 20ms}"
            if node > 0 { text += ", dependsOn: [r\(node - 1), r\(node / 2)]" }
            text += "}\n"
        }
        text += "---\napiVersion: trellis.dev/v1\nkind: Environment\nmetadata: {name: big}\nspec:\n  template: big\n"
        #expect(Self.agrees(Array(text.utf8)))
    }

    @Test("the limits hold: nesting too deep is left to libyaml, which reports it; duplicate keys are reported alike")
    func limits() {
        let deep = String(repeating: "[", count: 70) + String(repeating: "]", count: 70)
        #expect(FastYAMLReader(file: "t.yaml", limits: .default).read(Array(deep.utf8)) == nil)
        let (_, errors) = YAMLReader(file: "t.yaml", limits: .default).read(Array(deep.utf8))
        #expect(errors.map(\.code) == [.nestingTooDeep])
        var blockDeep = ""
        for level in 0..<70 { blockDeep += String(repeating: " ", count: level) + "k:\n" }
        #expect(FastYAMLReader(file: "t.yaml", limits: .default).read(Array(blockDeep.utf8)) == nil)
        #expect(Self.agrees(Array("a: 1\nb: 2\na: 3\n".utf8)))
        let (_, duplicate) = YAMLReader(file: "t.yaml", limits: .default).read(Array("a: 1\na: 3\n".utf8))
        #expect(duplicate.map(\.code) == [.duplicateKey])
    }

    /// Seeds for the mutations: small documents that use every construct of the subset.
    static let seeds: [String] = [
        "a: 1\nb:\n  c: [x, 'y', \"z\"]\n  d: {e: f, g: [1, 2]}\nh:\n- i\n- j: k\n  l: m\n",
        "---\nkind: Template\nspec:\n  resources:\n    r0: {type: noop, params: {delay: 20ms}}\n"
            + "    r1: {type: noop, dependsOn: [r0]}  # c\n---\nx: \"a\\tb\"\n",
        "{\"a\": [1, 2, {\"b\": null}], \"c\": \"d\",\n \"e\": {\"f\": true}}\n",
        "- a: 1\n  b:\n    - x\n    - y\n-\n  c: 'it''s'\n- [p, q]\n",
        "url: http://h:80/p#f\nk : v # c\nn: -1\nq: ?x\n\n# end\n",
        "k: |\n  one\n    two\n\n  three\nl: |-\n  s\n\nm:\n- |+\n  kept\n\n- n\n",
    ]

    @Test("every single-byte mutation of the seeds is either left to libyaml or read exactly as libyaml reads it")
    func mutations() {
        let inserted = Array(" \n:-#{}[],\"'a?\\&!|>.".utf8)
        var accepted = 0
        var total = 0
        for seed in Self.seeds {
            let bytes = Array(seed.utf8)
            for position in 0...bytes.count {
                var variants: [[UInt8]] = []
                if position < bytes.count {
                    var deleted = bytes
                    deleted.remove(at: position)
                    variants.append(deleted)
                }
                for byte in inserted {
                    var added = bytes
                    added.insert(byte, at: position)
                    variants.append(added)
                    if position < bytes.count {
                        var replaced = bytes
                        replaced[position] = byte
                        variants.append(replaced)
                    }
                }
                for variant in variants {
                    total += 1
                    if Self.agrees(variant) { accepted += 1 }
                }
            }
        }
        // Most mutations stay in the subset, so the comparison has something to compare.
        #expect(accepted > total / 3, "accepted \(accepted) of \(total)")
    }

    @Test("generated documents in the subset read as libyaml reads them")
    func generated() {
        var generator = DocumentGenerator(state: 42)
        var accepted = 0
        for _ in 0..<2_000 {
            if Self.agrees(Array(generator.document().utf8)) { accepted += 1 }
        }
        #expect(accepted >= 1_500, "accepted \(accepted) of 2,000")
    }
}

/// Random documents in the subset's styles: block and flow collections, plain and quoted
/// scalars, comments, blank lines, several documents.
struct DocumentGenerator {
    var state: UInt64

    mutating func next(_ bound: Int) -> Int {
        state &+= 0x9E37_79B9_7F4A_7C15
        var mixed = state
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        return Int((mixed ^ (mixed >> 31)) % UInt64(bound))
    }

    mutating func document() -> String {
        var text = ""
        let count = 1 + next(3)
        for index in 0..<count {
            if index > 0 || next(2) == 0 { text += next(3) == 0 ? "--- # doc\n" : "---\n" }
            if next(4) == 0 { text += "# comment\n\n" }
            text += block(indent: 0, depth: 0)
        }
        return text
    }

    mutating func scalar(flow: Bool) -> String {
        let words = [
            "a", "noop", "20ms", "-1", "1.5", "true", "null", "~", "0x1F", "x y", "http://h:1/p", "a#b", "?q", "it's",
        ]
        switch next(5) {
        case 0: return "'" + words[next(words.count)].replacingOccurrences(of: "'", with: "''") + "'"
        case 1: return "\"" + ["a\\nb", "q\\\"", "\\u0041", "plain", ""][next(5)] + "\""
        default:
            let word = words[next(words.count)]
            if flow && (word.contains(":") || word.contains("#") || word.hasPrefix("?")) { return "w" }
            return word
        }
    }

    mutating func key() -> String {
        ["name", "type", "params", "dependsOn", "k\(next(50))", "'quoted'", "\"dq\"", "with space"][next(8)]
    }

    mutating func flow(depth: Int) -> String {
        if depth > 3 || next(3) == 0 { return scalar(flow: true) }
        let count = next(4)
        let separator = next(4) == 0 ? ",\n    " : ", "
        if next(2) == 0 {
            var seen = Set<String>()
            var entries: [String] = []
            for _ in 0..<count {
                let key = key()
                guard seen.insert(key).inserted else { continue }
                entries.append(key + ": " + flow(depth: depth + 1))
            }
            return "{" + entries.joined(separator: separator) + "}"
        }
        return "[" + (0..<count).map { _ in flow(depth: depth + 1) }.joined(separator: separator) + "]"
    }

    mutating func block(indent: Int, depth: Int) -> String {
        let pad = String(repeating: " ", count: indent)
        var text = ""
        if depth < 3 && next(3) == 0 {
            for _ in 0..<(1 + next(3)) {
                text += pad + "- " + (next(2) == 0 ? flow(depth: 0) : scalar(flow: false)) + "\n"
            }
            return text
        }
        var seen = Set<String>()
        for _ in 0..<(1 + next(4)) {
            let key = key()
            guard seen.insert(key).inserted else { continue }
            switch next(depth < 3 ? 5 : 3) {
            case 0 where next(4) == 0:
                text += pad + key + ": |" + ["", "-", "+"][next(3)] + "\n"
                for _ in 0..<(1 + next(3)) {
                    let extra = String(repeating: " ", count: next(3))
                    text += pad + "  " + extra + ["echo hi", "# not a comment", "a: b", "- x", ""][next(5)] + "\n"
                    if next(4) == 0 { text += "\n" }
                }
            case 0: text += pad + key + ": " + scalar(flow: false) + (next(4) == 0 ? "  # c" : "") + "\n"
            case 1: text += pad + key + ": " + flow(depth: 0) + "\n"
            case 2: text += pad + key + ":\n"
            case 3: text += pad + key + ":\n" + block(indent: indent + 2, depth: depth + 1)
            default:
                text += pad + key + ":\n"
                for _ in 0..<(1 + next(2)) {
                    text += pad + "- " + key + "x: " + scalar(flow: false) + "\n"
                    text += pad + "  other: " + flow(depth: 1) + "\n"
                }
            }
            if next(6) == 0 { text += "\n" + pad + "# between\n" }
        }
        return text
    }
}
