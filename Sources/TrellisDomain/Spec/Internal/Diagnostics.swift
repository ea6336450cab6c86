/// Collects the violations of one document (or one resolution) so that all of them are
/// reported, not only the first.
struct Diagnostics {
    var file: String
    var document: SpecDocumentReference?
    var errors: [SpecError] = []

    init(file: String, document: SpecDocumentReference?) {
        self.file = file
        self.document = document
    }

    init(origin: SpecOrigin, kind: String, name: String) {
        self.file = origin.file
        self.document = SpecDocumentReference(index: origin.document, kind: kind, name: name)
    }

    var isEmpty: Bool { errors.isEmpty }

    mutating func report(_ code: SpecError.Code, at path: SpecPath, mark: SourceMark? = nil, _ message: String) {
        errors.append(
            SpecError(
                file: file,
                document: document,
                path: path.description,
                line: mark?.line,
                column: mark?.column,
                code: code,
                message: message
            )
        )
    }

    /// Names the document in every error collected so far, once its kind and name are known.
    mutating func name(kind: String?, name: String?) {
        document = SpecDocumentReference(index: document?.index, kind: kind, name: name)
        for position in errors.indices {
            errors[position].document = document
        }
    }
}
