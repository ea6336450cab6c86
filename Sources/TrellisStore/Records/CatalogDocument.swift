/// One version of a catalog document: a Template, a ResourceDefinition, a Policy.
///
/// The store does not interpret documents. ``body`` is canonical JSON produced by the
/// domain layer, so that the same document always has the same text and a put of an
/// unchanged document is recognised by comparing text.
public struct CatalogDocument: Sendable, Hashable {
    /// The document's kind, e.g. `Template`.
    public var kind: String
    /// The document's name, unique within its kind.
    public var name: String
    /// The version, counting from 1 within one kind and name.
    public var version: Int64
    /// The canonical JSON text of the document.
    public var body: String
    /// When this version was stored, in milliseconds since the Unix epoch.
    public var createdAt: Int64

    public init(kind: String, name: String, version: Int64, body: String, createdAt: Int64) {
        self.kind = kind
        self.name = name
        self.version = version
        self.body = body
        self.createdAt = createdAt
    }
}

/// A document to put into the catalog; the store assigns its version.
public struct CatalogDocumentDraft: Sendable, Hashable {
    /// The document's kind, e.g. `Template`.
    public var kind: String
    /// The document's name, unique within its kind.
    public var name: String
    /// The canonical JSON text of the document.
    public var body: String
    /// The time to record if a new version is created, in milliseconds since the epoch.
    public var createdAt: Int64

    public init(kind: String, name: String, body: String, createdAt: Int64) {
        self.kind = kind
        self.name = name
        self.body = body
        self.createdAt = createdAt
    }
}

/// The outcome of putting a document: the version that now holds its body.
public struct CatalogPutResult: Sendable, Hashable {
    /// The version whose body equals the one put.
    public var version: Int64
    /// Whether the put created that version; `false` when the latest version already had
    /// the same body.
    public var changed: Bool

    public init(version: Int64, changed: Bool) {
        self.version = version
        self.changed = changed
    }
}
