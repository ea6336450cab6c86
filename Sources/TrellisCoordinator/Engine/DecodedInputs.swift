import Synchronization
import TrellisDomain

#if canImport(Glibc)
import Glibc
#endif

/// The documents of the last few large inputs admission decoded, by their file name and
/// exact bytes.
///
/// Decoding is a function of the bytes and the name alone (for one decoder), and the
/// largest part of admitting a large spec; the same input often comes twice in a row: a
/// plan, then the apply of what it showed, or an apply retried, or a catalog template
/// that environment after environment instantiates. Those are decoded once. Inputs under
/// ``minimumBytes`` decode in about a millisecond or less and are not kept. The entries
/// hold at most ``capacityBytes`` of input, the least recently used going first: decoded
/// documents take about ten times their input's size (4.3 MiB for a 440 KB template of
/// 10,000 resources), so this keeps about 20 MiB at the most.
final class DecodedInputs: Sendable {
    static let minimumBytes = 64 * 1024
    static let capacityBytes = 2 * 1024 * 1024
    static let maxEntries = 4

    private struct Entry {
        var file: String
        var bytes: [UInt8]
        var input: DecodedInput
    }

    private struct State {
        var entries: [Entry] = []
        var hits = 0
    }

    private let state = Mutex(State())

    /// The decoded input of `bytes`, from an earlier decode of the same file name and bytes
    /// or from `decode`, whose successful results are kept; with the canonical JSON of its
    /// documents once asked for.
    func input(
        _ bytes: [UInt8], file: String, decode: ([UInt8]) throws(SpecErrors) -> [SpecDocument]
    ) throws(SpecErrors) -> DecodedInput {
        guard bytes.count >= Self.minimumBytes else { return DecodedInput(try decode(bytes)) }
        let kept = state.withLock { state -> DecodedInput? in
            guard let index = state.entries.firstIndex(where: { $0.file == file && Self.same($0.bytes, bytes) })
            else { return nil }
            let entry = state.entries.remove(at: index)
            state.entries.append(entry)
            state.hits += 1
            return entry.input
        }
        if let kept { return kept }
        let input = DecodedInput(try decode(bytes))
        guard bytes.count <= Self.capacityBytes else { return input }
        state.withLock { state in
            state.entries.append(Entry(file: file, bytes: bytes, input: input))
            var total = state.entries.reduce(0) { $0 + $1.bytes.count }
            while state.entries.count > Self.maxEntries || total > Self.capacityBytes {
                total -= state.entries.removeFirst().bytes.count
            }
        }
        return input
    }

    /// How many decodes were saved so far.
    var hits: Int { state.withLock { $0.hits } }

    /// How many inputs are kept.
    var count: Int { state.withLock { $0.entries.count } }

    private static func same(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        return a.withUnsafeBytes { a in b.withUnsafeBytes { b in memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0 }
        }
    }
}

/// One decoded input: its documents, and their canonical JSON (what the catalog and the
/// environment records store), made once per document when first asked for.
final class DecodedInput: Sendable {
    let documents: [SpecDocument]
    private let bodies = Mutex<[Body: String]>([:])

    private struct Body: Hashable {
        var position: Int
        var apiGroup: String
    }

    init(_ documents: [SpecDocument]) { self.documents = documents }

    /// The canonical JSON of the document at `position` (in ``documents``).
    func canonicalJSON(at position: Int, apiGroup: String) -> String {
        let key = Body(position: position, apiGroup: apiGroup)
        if let body = bodies.withLock({ $0[key] }) { return body }
        let body = documents[position].object.canonicalJSON(apiGroup: apiGroup)
        bodies.withLock { $0[key] = body }
        return body
    }
}
