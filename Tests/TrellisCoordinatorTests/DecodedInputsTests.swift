import Synchronization
import Testing
import TrellisDomain

@testable import TrellisCoordinator

/// A template of `count` noop resources named with `prefix`: over 64 KiB from 1,500 on.
private func templateInput(_ count: Int, prefix: String = "r") -> [UInt8] {
    var text = "apiVersion: trellis.dev/v1\nkind: Template\nmetadata: {name: big}\nspec:\n  resources:\n"
    for index in 0..<count { text += "    \(prefix)\(index): {type: noop, params: {delay: 1ms}}\n" }
    return Array(text.utf8)
}

/// Counts the decodes the cache asks for.
private final class CountingDecoder: Sendable {
    private let calls = Mutex(0)
    var count: Int { calls.withLock { $0 } }

    func decode(_ bytes: [UInt8], file: String) throws(SpecErrors) -> [SpecDocument] {
        calls.withLock { $0 += 1 }
        return try SpecDecoder().decode(bytes, file: file)
    }
}

@Suite("Decoded inputs kept for admission")
struct DecodedInputsTests {
    @Test("the same large input under the same name is decoded once, to the same documents")
    func sameInputOnce() throws {
        let cache = DecodedInputs()
        let counter = CountingDecoder()
        let input = templateInput(2_000)
        let first = try cache.input(input, file: "big.yaml") { (bytes) throws(SpecErrors) in
            try counter.decode(bytes, file: "big.yaml")
        }.documents
        let second = try cache.input(input, file: "big.yaml") { (bytes) throws(SpecErrors) in
            try counter.decode(bytes, file: "big.yaml")
        }.documents
        #expect(counter.count == 1)
        #expect(cache.hits == 1)
        #expect(first == second)
        #expect(second == (try SpecDecoder().decode(input, file: "big.yaml")))
    }

    @Test("a kept input is the same object next time, with its documents' canonical JSON made once")
    func keptInputSharesCanonicalJSON() throws {
        let cache = DecodedInputs()
        let input = templateInput(2_000)
        let decode: ([UInt8]) throws(SpecErrors) -> [SpecDocument] = { (bytes) throws(SpecErrors) in
            try SpecDecoder().decode(bytes, file: "big.yaml")
        }
        let first = try cache.input(input, file: "big.yaml", decode: decode)
        let body = first.canonicalJSON(at: 0, apiGroup: SpecDecoder.defaultAPIGroup)
        #expect(body == first.documents[0].object.canonicalJSON())
        let second = try cache.input(input, file: "big.yaml", decode: decode)
        #expect(first === second)
        #expect(second.canonicalJSON(at: 0, apiGroup: SpecDecoder.defaultAPIGroup) == body)
        // Another API group is another text, not the one made first.
        let other = second.canonicalJSON(at: 0, apiGroup: "platform.company.com")
        #expect(other == first.documents[0].object.canonicalJSON(apiGroup: "platform.company.com"))
        #expect(other != body)
    }

    @Test("another name, one changed byte, a small input or a failed decode are decoded every time")
    func missesAreDecoded() throws {
        let cache = DecodedInputs()
        let counter = CountingDecoder()
        func decode(_ bytes: [UInt8], _ file: String) throws(SpecErrors) -> [SpecDocument] {
            try cache.input(bytes, file: file) { (bytes) throws(SpecErrors) in try counter.decode(bytes, file: file)
            }.documents
        }
        var input = templateInput(2_000)
        _ = try decode(input, "a.yaml")
        _ = try decode(input, "b.yaml")
        let last = input.lastIndex(of: UInt8(ascii: "1"))!
        input[last] = UInt8(ascii: "2")
        let changed = try decode(input, "a.yaml")
        #expect(changed == (try SpecDecoder().decode(input, file: "a.yaml")))
        #expect(counter.count == 3)

        let small = templateInput(3)
        _ = try decode(small, "small.yaml")
        _ = try decode(small, "small.yaml")
        #expect(counter.count == 5)

        var broken = templateInput(2_000)
        broken += Array("    bad: {type: noop, params: [\n".utf8)
        for _ in 0..<2 { #expect(throws: SpecErrors.self) { try decode(broken, "broken.yaml") } }
        #expect(counter.count == 7)
        #expect(cache.hits == 0)
    }

    @Test("at most four inputs are kept, the least recently used going first")
    func bounded() throws {
        let cache = DecodedInputs()
        let counter = CountingDecoder()
        func decode(_ bytes: [UInt8]) throws(SpecErrors) {
            _ = try cache.input(bytes, file: "f.yaml") { (bytes) throws(SpecErrors) in
                try counter.decode(bytes, file: "f.yaml")
            }
        }
        let inputs = (0..<5).map { templateInput(2_000, prefix: "p\($0)r") }
        for input in inputs.prefix(4) { try decode(input) }
        try decode(inputs[0])  // used again: now the most recent
        try decode(inputs[4])  // evicts inputs[1]
        #expect(cache.count == 4)
        #expect(counter.count == 5)
        try decode(inputs[0])
        #expect(counter.count == 5)
        try decode(inputs[1])
        #expect(counter.count == 6)
    }

    @Test("the inputs kept hold at most 2 MiB, and a larger input is not kept at all")
    func boundedByBytes() throws {
        let cache = DecodedInputs()
        let decodes = Mutex(0)
        func decode(_ bytes: [UInt8]) throws(SpecErrors) {
            _ = try cache.input(bytes, file: "f.yaml") { _ in
                decodes.withLock { $0 += 1 }
                return []
            }
        }
        let inputs = (0..<3).map { [UInt8](repeating: UInt8($0), count: 900 * 1024) }
        for input in inputs { try decode(input) }
        #expect(cache.count == 2)
        try decode(inputs[0])
        #expect(decodes.withLock { $0 } == 4)
        try decode(inputs[0])
        #expect(decodes.withLock { $0 } == 4)

        let huge = [UInt8](repeating: 7, count: DecodedInputs.capacityBytes + 1)
        try decode(huge)
        try decode(huge)
        #expect(decodes.withLock { $0 } == 6)
    }
}
