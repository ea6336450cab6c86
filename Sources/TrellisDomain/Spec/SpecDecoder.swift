/// Reads spec documents (YAML or JSON, several per input) into the kinds.
///
/// ```swift
/// let decoder = SpecDecoder(apiGroup: "platform.company.com")
/// let documents = try decoder.decode(bytes, file: "app.yaml")
/// ```
///
/// Every violation of every document is collected and thrown together as `SpecErrors`;
/// a YAML syntax error ends the input, as the parser cannot resynchronise after one.
/// Empty documents are skipped.
public struct SpecDecoder: Sendable {
    /// The API group of `apiVersion` (`GROUP/v1`).
    public var apiGroup: String
    /// The limits enforced while reading.
    public var limits: SpecLimits

    /// The one API version.
    public static let version = "v1"
    /// The default API group.
    public static let defaultAPIGroup = "trellis.dev"

    public init(apiGroup: String = SpecDecoder.defaultAPIGroup, limits: SpecLimits = .default) {
        self.apiGroup = apiGroup
        self.limits = limits
    }

    /// `apiVersion` as documents of this group write it.
    public var apiVersion: String { "\(apiGroup)/\(Self.version)" }

    /// The documents of `text`.
    public func decode(_ text: String, file: String) throws(SpecErrors) -> [SpecDocument] {
        try decode(Array(text.utf8), file: file)
    }

    /// The documents of `bytes`, UTF-8 YAML or JSON.
    public func decode(_ bytes: [UInt8], file: String) throws(SpecErrors) -> [SpecDocument] {
        let (raw, readErrors) = try values(bytes, file: file, throwing: false)
        var errors = readErrors
        var documents: [SpecDocument] = []
        for document in raw where !document.root.isNull {
            var diagnostics = Diagnostics(file: file, document: SpecDocumentReference(index: document.index))
            if let object = decodeObject(
                document.root, origin: SpecOrigin(file: file, document: document.index), &diagnostics)
            {
                documents.append(SpecDocument(index: document.index, object: object))
            }
            errors += diagnostics.errors
        }
        guard errors.isEmpty else { throw SpecErrors(Self.inInputOrder(errors)) }
        return documents
    }

    /// The documents of `bytes` as generic trees, without reading them as kinds.
    public func values(_ bytes: [UInt8], file: String) throws(SpecErrors) -> [SpecValue] {
        try values(bytes, file: file, throwing: true).documents.map(\.root)
    }

    private func values(
        _ bytes: [UInt8], file: String, throwing: Bool
    ) throws(SpecErrors) -> (
        documents: [RawDocument], errors: [SpecError]
    ) {
        let (documents, errors) = YAMLReader(file: file, limits: limits).read(bytes)
        if throwing, !errors.isEmpty { throw SpecErrors(errors) }
        return (documents, errors)
    }

    /// Errors in the order of the input: by document, then as found.
    private static func inInputOrder(_ errors: [SpecError]) -> [SpecError] {
        errors.enumerated()
            .sorted { ($0.element.document?.index ?? 0, $0.offset) < ($1.element.document?.index ?? 0, $1.offset) }
            .map(\.element)
    }

    /// One document's tree read as a kind, or nil with the reasons in `diagnostics`.
    func decodeObject(_ root: SpecValue, origin: SpecOrigin, _ diagnostics: inout Diagnostics) -> SpecObject? {
        var reader = FieldReader(diagnostics: diagnostics)
        defer { diagnostics = reader.diagnostics }

        guard let top = reader.fields(root, at: .root, allowed: ["apiVersion", "kind", "metadata", "spec"]) else {
            return nil
        }
        if let apiVersion = reader.required("apiVersion", in: top, of: root, at: .root) {
            checkAPIVersion(apiVersion, &reader)
        }
        var kind: String?
        if let value = reader.required("kind", in: top, of: root, at: .root),
            let name = reader.string(value, at: "kind")
        {
            if SpecObject.kinds.contains(name) {
                kind = name
            } else {
                let kinds = SpecObject.kinds.map { quoted($0) }.joined(separator: ", ")
                reader.diagnostics.report(
                    .unknownKind,
                    at: "kind",
                    mark: value.mark,
                    "unknown kind \(quoted(name)); expected one of \(kinds)"
                )
            }
        }
        let name = top["metadata"]?.mapValue?["name"]?.stringValue
        reader.diagnostics.name(kind: kind, name: name)

        guard let kind, let metadata = reader.required("metadata", in: top, of: root, at: .root) else { return nil }
        let spec = reader.required("spec", in: top, of: root, at: .root) ?? SpecValue(.map([:]))
        var object: SpecObject?
        switch kind {
        case "Template":
            object = decodeTemplate(metadata: metadata, spec: spec, origin: origin, &reader).map { .template($0) }
        case "ResourceDefinition":
            object = decodeDefinition(metadata: metadata, spec: spec, origin: origin, &reader).map {
                .resourceDefinition($0)
            }
        default:
            object = decodeEnvironment(metadata: metadata, spec: spec, origin: origin, &reader).map { .environment($0) }
        }
        return reader.diagnostics.isEmpty ? object : nil
    }

    private func checkAPIVersion(_ value: SpecValue, _ reader: inout FieldReader) {
        guard let text = reader.string(value, at: "apiVersion") else { return }
        let group: Substring
        let version: Substring
        if let slash = text.lastIndex(of: "/") {
            group = text[..<slash]
            version = text[text.index(after: slash)...]
        } else {
            group = ""
            version = Substring(text)
        }
        guard group != apiGroup || version != Self.version else { return }
        reader.diagnostics.report(
            .unsupportedAPIVersion,
            at: "apiVersion",
            mark: value.mark,
            "unsupported apiVersion \(quoted(text)): group \(quoted(String(group))) and version "
                + "\(quoted(String(version))), expected group \(quoted(apiGroup)) and version \(quoted(Self.version))"
        )
    }
}

extension SpecPath: ExpressibleByStringLiteral {
    /// A path of one key.
    public init(stringLiteral key: String) {
        self.init(components: [.key(key)])
    }
}
