/// Where a value starts in its source text, for error messages.
public struct SourceMark: Sendable, Hashable, CustomStringConvertible {
    /// The line, counted from 1.
    public var line: Int
    /// The column, counted from 1.
    public var column: Int

    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    public var description: String { "line \(line), column \(column)" }
}

/// A value of a spec document: the generic tree that YAML and JSON are both read into.
///
/// A value read from text carries the `mark` of where it started. Equality and hashing ignore
/// marks, so a value read from a file equals the same value built in code.
public struct SpecValue: Sendable, Hashable {
    /// What the value holds.
    public enum Content: Sendable, Hashable {
        case null
        case bool(Bool)
        case int(Int)
        case double(Double)
        case string(String)
        case list([SpecValue])
        case map(SpecMap)
    }

    /// What the value holds.
    public var content: Content
    /// Where the value started in its source, when it was read from text.
    public var mark: SourceMark?

    public init(_ content: Content, mark: SourceMark? = nil) {
        self.content = content
        self.mark = mark
    }

    public static func == (lhs: SpecValue, rhs: SpecValue) -> Bool {
        lhs.content == rhs.content
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(content)
    }
}

extension SpecValue {
    /// The null value.
    public static let null = SpecValue(.null)

    /// A boolean value.
    public static func bool(_ value: Bool) -> SpecValue { SpecValue(.bool(value)) }
    /// An integer value.
    public static func int(_ value: Int) -> SpecValue { SpecValue(.int(value)) }
    /// A floating-point value.
    public static func double(_ value: Double) -> SpecValue { SpecValue(.double(value)) }
    /// A string value.
    public static func string(_ value: String) -> SpecValue { SpecValue(.string(value)) }
    /// A list value.
    public static func list(_ value: [SpecValue]) -> SpecValue { SpecValue(.list(value)) }
    /// A map value.
    public static func map(_ value: SpecMap) -> SpecValue { SpecValue(.map(value)) }

    /// The string, when the value is one.
    public var stringValue: String? {
        if case .string(let value) = content { return value }
        return nil
    }

    /// The integer, when the value is one.
    public var intValue: Int? {
        if case .int(let value) = content { return value }
        return nil
    }

    /// The boolean, when the value is one.
    public var boolValue: Bool? {
        if case .bool(let value) = content { return value }
        return nil
    }

    /// The list, when the value is one.
    public var listValue: [SpecValue]? {
        if case .list(let value) = content { return value }
        return nil
    }

    /// The map, when the value is one.
    public var mapValue: SpecMap? {
        if case .map(let value) = content { return value }
        return nil
    }

    /// Whether the value is null.
    public var isNull: Bool {
        if case .null = content { return true }
        return false
    }

    /// The name of the value's type as error messages spell it: `null`, `bool`, `int`,
    /// `double`, `string`, `list`, `map`.
    public var typeName: String {
        switch content {
        case .null: "null"
        case .bool: "bool"
        case .int: "int"
        case .double: "double"
        case .string: "string"
        case .list: "list"
        case .map: "map"
        }
    }

    /// The value with every mark removed, nested ones included.
    public var withoutMarks: SpecValue {
        switch content {
        case .list(let items): .list(items.map(\.withoutMarks))
        case .map(let map): .map(map.mapValues(\.withoutMarks))
        default: SpecValue(content)
        }
    }
}

extension SpecValue: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByStringInterpolation, ExpressibleByArrayLiteral,
    ExpressibleByDictionaryLiteral
{
    public init(nilLiteral: ()) { self.init(.null) }
    public init(booleanLiteral value: Bool) { self.init(.bool(value)) }
    public init(integerLiteral value: Int) { self.init(.int(value)) }
    public init(floatLiteral value: Double) { self.init(.double(value)) }
    public init(stringLiteral value: String) { self.init(.string(value)) }
    public init(arrayLiteral elements: SpecValue...) { self.init(.list(elements)) }

    public init(dictionaryLiteral elements: (String, SpecValue)...) {
        var map = SpecMap()
        for (key, value) in elements {
            map[key] = value
        }
        self.init(.map(map))
    }
}

extension SpecValue: CustomStringConvertible {
    /// The value as canonical JSON.
    public var description: String { canonicalJSON }
}
