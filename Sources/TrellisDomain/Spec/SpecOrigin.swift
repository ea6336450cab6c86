/// Where a spec value was read from, so that errors found later (at resolution, say) can
/// name the file and document.
///
/// Origins never affect equality or hashing: the same template read from two files is the
/// same template.
public struct SpecOrigin: Sendable, Hashable {
    /// The file or other input name; empty when unknown.
    public var file: String
    /// The document's position in its input, counted from 1, when known.
    public var document: Int?

    public init(file: String = "", document: Int? = nil) {
        self.file = file
        self.document = document
    }

    /// No known origin: a value built in code or read back from storage.
    public static let unknown = SpecOrigin()

    public static func == (lhs: SpecOrigin, rhs: SpecOrigin) -> Bool { true }
    public func hash(into hasher: inout Hasher) {}
}
