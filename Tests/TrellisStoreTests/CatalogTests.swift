import Testing
import TrellisStore

@Suite("Catalog documents")
struct CatalogTests {
    private func draft(_ name: String, _ body: String, kind: String = "Template") -> CatalogDocumentDraft {
        CatalogDocumentDraft(kind: kind, name: name, body: body, createdAt: 1_700_000_000_000)
    }

    @Test("putting the same body again returns the existing version unchanged")
    func putIsIdempotent() async throws {
        try await withStore { (store, _) throws in
            let first = try await store.putDocument(draft("backend-service", #"{"a":1}"#))
            let again = try await store.putDocument(draft("backend-service", #"{"a":1}"#))
            #expect(first == CatalogPutResult(version: 1, changed: true))
            #expect(again == CatalogPutResult(version: 1, changed: false))
            #expect(try await store.documents(kind: "Template", allVersions: true).count == 1)
        }
    }

    @Test("a different body creates the next version, and any version can be read")
    func versions() async throws {
        try await withStore { (store, _) throws in
            _ = try await store.putDocument(draft("backend-service", #"{"a":1}"#))
            let second = try await store.putDocument(draft("backend-service", #"{"a":2}"#))
            // Going back to the first body is a change too.
            let third = try await store.putDocument(draft("backend-service", #"{"a":1}"#))
            #expect(second == CatalogPutResult(version: 2, changed: true))
            #expect(third == CatalogPutResult(version: 3, changed: true))

            #expect(try await store.document(kind: "Template", name: "backend-service")?.version == 3)
            #expect(
                try await store.document(kind: "Template", name: "backend-service", version: 2)?.body == #"{"a":2}"#)
            #expect(try await store.document(kind: "Template", name: "backend-service", version: 9) == nil)
            #expect(try await store.document(kind: "Policy", name: "backend-service") == nil)
        }
    }

    @Test("listing returns the latest of each name, or every version, per kind or across kinds")
    func listing() async throws {
        try await withStore { (store, _) throws in
            _ = try await store.putDocument(draft("b", "1"))
            _ = try await store.putDocument(draft("b", "2"))
            _ = try await store.putDocument(draft("a", "1"))
            _ = try await store.putDocument(draft("postgres", "1", kind: "ResourceDefinition"))

            let latest = try await store.documents(kind: "Template", allVersions: false)
            #expect(latest.map { "\($0.name)@\($0.version)" } == ["a@1", "b@2"])
            let all = try await store.documents(kind: "Template", allVersions: true)
            #expect(all.map { "\($0.name)@\($0.version)" } == ["a@1", "b@1", "b@2"])
            let everyKind = try await store.documents(kind: nil, allVersions: false)
            #expect(everyKind.map(\.kind) == ["ResourceDefinition", "Template", "Template"])
        }
    }

    @Test("deleting a document removes every version and only that document")
    func delete() async throws {
        try await withStore { (store, _) throws in
            _ = try await store.putDocument(draft("gone", "1"))
            _ = try await store.putDocument(draft("gone", "2"))
            _ = try await store.putDocument(draft("stays", "1"))
            #expect(try await store.deleteDocument(kind: "Template", name: "gone") == 2)
            #expect(try await store.deleteDocument(kind: "Template", name: "gone") == 0)
            #expect(try await store.documents(kind: nil, allVersions: true).map(\.name) == ["stays"])

            // A name deleted and put again starts over at version 1.
            #expect(try await store.putDocument(draft("gone", "3")).version == 1)
        }
    }
}
