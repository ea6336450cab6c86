/// A map from string keys to values that keeps its keys in insertion order.
///
/// Order is kept so that resources, parameters and fields come out in the order they were
/// written; equality and hashing ignore it, as maps in YAML and JSON carry no order.
/// Lookups are linear in small maps and hashed in large ones.
public struct SpecMap: Sendable {
    /// The keys, in insertion order.
    public private(set) var keys: [String] = []
    /// The values, in the order of `keys`.
    public private(set) var values: [SpecValue] = []
    /// Positions by key, kept only once the map is large enough for hashing to pay.
    private var positions: [String: Int]?

    /// Maps with more entries than this keep their positions hashed.
    static let hashingThreshold = 12

    public init() {}

    /// A map of the given entries; a repeated key keeps its last value at its first position.
    public init(_ entries: some Sequence<(String, SpecValue)>) {
        for (key, value) in entries {
            self[key] = value
        }
    }

    /// A map of distinct `keys` with their `values` and, for a map past the hashing
    /// threshold, every key's position: for a reader that has built them already.
    init(keys: [String], values: [SpecValue], positions: [String: Int]?) {
        assert(keys.count == values.count && (positions?.count ?? keys.count) == keys.count)
        self.keys = keys
        self.values = values
        self.positions = positions
        rebuildPositionsIfLarge()
    }

    /// A map of `keys` and `values` in one pass, for keys that should differ: a repeated
    /// key keeps its last value at its first position, as with ``init(_:)``.
    init(keys: [String], values: [SpecValue]) {
        precondition(keys.count == values.count, "SpecMap: as many keys as values")
        self.init(keys: keys, values: values, positions: nil)
        let distinct =
            positions.map { $0.count == keys.count }
            ?? keys.indices.allSatisfy { index in !keys[..<index].contains(keys[index]) }
        if !distinct { self = SpecMap(zip(keys, values)) }
    }

    /// The number of entries.
    public var count: Int { keys.count }

    /// Whether the map has no entries.
    public var isEmpty: Bool { keys.isEmpty }

    /// The position of `key` in `keys`, if present.
    public func position(of key: String) -> Int? {
        if let positions {
            return positions[key]
        }
        return keys.firstIndex(of: key)
    }

    /// The value for `key`; setting `nil` removes the entry.
    public subscript(key: String) -> SpecValue? {
        get {
            position(of: key).map { values[$0] }
        }
        set {
            if let newValue {
                if let position = position(of: key) {
                    values[position] = newValue
                } else {
                    append(key, newValue)
                }
            } else if let position = position(of: key) {
                keys.remove(at: position)
                values.remove(at: position)
                positions = nil
                rebuildPositionsIfLarge()
            }
        }
    }

    /// The entries in insertion order.
    public var entries: Zip2Sequence<[String], [SpecValue]> { zip(keys, values) }

    /// A map with the same keys and transformed values.
    public func mapValues(_ transform: (SpecValue) throws -> SpecValue) rethrows -> SpecMap {
        var result = self
        for position in values.indices {
            result.values[position] = try transform(values[position])
        }
        return result
    }

    /// Adds an entry for a key known to be absent.
    private mutating func append(_ key: String, _ value: SpecValue) {
        keys.append(key)
        values.append(value)
        if positions != nil {
            positions![key] = keys.count - 1
        } else {
            rebuildPositionsIfLarge()
        }
    }

    private mutating func rebuildPositionsIfLarge() {
        guard positions == nil, keys.count > Self.hashingThreshold else { return }
        var positions = [String: Int](minimumCapacity: keys.count * 2)
        for (position, key) in keys.enumerated() {
            positions[key] = position
        }
        self.positions = positions
    }
}

extension SpecMap: Hashable {
    public static func == (lhs: SpecMap, rhs: SpecMap) -> Bool {
        guard lhs.count == rhs.count else { return false }
        if lhs.keys == rhs.keys {
            return lhs.values == rhs.values
        }
        for (key, value) in lhs.entries {
            guard let other = rhs[key], other == value else { return false }
        }
        return true
    }

    public func hash(into hasher: inout Hasher) {
        // Order-independent: the sum of the entries' own hashes.
        var sum = 0
        for (key, value) in entries {
            var entryHasher = Hasher()
            entryHasher.combine(key)
            entryHasher.combine(value)
            sum &+= entryHasher.finalize()
        }
        hasher.combine(count)
        hasher.combine(sum)
    }
}

extension SpecMap: Sequence {
    public func makeIterator() -> Zip2Sequence<[String], [SpecValue]>.Iterator {
        entries.makeIterator()
    }
}

extension SpecMap: ExpressibleByDictionaryLiteral {
    public init(dictionaryLiteral elements: (String, SpecValue)...) {
        self.init(elements)
    }
}
