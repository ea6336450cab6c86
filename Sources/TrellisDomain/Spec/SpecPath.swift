/// A path inside a document, written the way error messages show it:
/// `spec.resources.api.params.command[1]`.
///
/// A key that is not a plain word (letters, digits, `_`, `-`) is written in brackets and
/// quotes, so that `metadata.labels["app.kubernetes.io/name"]` stays unambiguous.
public struct SpecPath: Sendable, Hashable, CustomStringConvertible {
    /// One step of a path.
    public enum Component: Sendable, Hashable {
        case key(String)
        case index(Int)
    }

    /// The steps from the document's root.
    public var components: [Component]

    /// The document's root.
    public static let root = SpecPath(components: [])

    public init(components: [Component]) {
        self.components = components
    }

    /// A path of keys, as in `SpecPath("spec", "resources")`.
    public init(_ keys: String...) {
        self.components = keys.map { .key($0) }
    }

    /// This path followed by a key.
    public func appending(_ key: String) -> SpecPath {
        var path = self
        path.components.append(.key(key))
        return path
    }

    /// This path followed by a list index.
    public func appending(index: Int) -> SpecPath {
        var path = self
        path.components.append(.index(index))
        return path
    }

    /// This path followed by another.
    public func appending(_ other: SpecPath) -> SpecPath {
        SpecPath(components: components + other.components)
    }

    public static func / (path: SpecPath, key: String) -> SpecPath { path.appending(key) }
    public static func / (path: SpecPath, index: Int) -> SpecPath { path.appending(index: index) }

    public var description: String {
        var text = ""
        for component in components {
            switch component {
            case .key(let key) where Self.isPlain(key):
                if !text.isEmpty { text += "." }
                text += key
            case .key(let key):
                text += "[\(quoted(key))]"
            case .index(let index):
                text += "[\(index)]"
            }
        }
        return text
    }

    private static func isPlain(_ key: String) -> Bool {
        !key.isEmpty
            && key.utf8.allSatisfy { byte in
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                    || byte == 0x5F || byte == 0x2D
            }
    }
}

/// `text` in double quotes with quotes, backslashes and control characters escaped as JSON
/// escapes them; error messages quote names with it.
func quoted(_ text: String) -> String {
    var result = "\""
    appendJSONString(text, to: &result)
    result += "\""
    return result
}
