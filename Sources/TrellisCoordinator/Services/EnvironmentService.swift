import TrellisAPI
import TrellisRPC
import TrellisStore
import TrellisWire

/// Runs a request's engine work on the cooperative pool. A handler starts on its
/// connection's loop thread, which keeps small calls cheap; admitting, planning or
/// describing an environment takes milliseconds per thousand resources, and the loop has
/// to go on serving the calls and connections behind the request meanwhile.
func onPool<Value: Sendable>(_ body: () async throws -> Value) async throws -> Value {
    try await withTaskExecutorPreference(globalConcurrentExecutor, operation: body)
}

/// `trellis.v1.EnvironmentService` over an ``EnvironmentEngine``.
enum EnvironmentService {
    static func register(into router: inout RPCRouter, engine: EnvironmentEngine) {
        router.register(
            TrellisV1.EnvironmentService.apply,
            serverStreaming: { request, writer, _ in
                let (documents, names, events) = try await onPool { try await engine.apply(request.files) }
                for document in documents {
                    try await writer.write(
                        TrellisV1.ProgressEvent(
                            timeUnixMs: Clock.nowMilliseconds(), event: .documentApplied,
                            phase: document.changed ? "Stored" : "Unchanged",
                            document: TrellisV1.DocumentResult(
                                kind: document.kind, name: document.name, version: UInt32(clamping: document.version),
                                changed: document.changed)))
                }
                try await follow(
                    events, until: Set(names), terminal: [EnvironmentPhase.ready, EnvironmentPhase.failed], writer)
            })
        router.register(
            TrellisV1.EnvironmentService.plan,
            unary: { request, _ in try await onPool { try await engine.plan(request.files) } })
        router.register(
            TrellisV1.EnvironmentService.get,
            unary: { request, _ in try await onPool { try await engine.status(of: request.name) } })
        router.register(
            TrellisV1.EnvironmentService.list,
            unary: { request, _ in
                TrellisV1.ListEnvironmentsResponse(
                    environments: try await onPool { try await engine.list(team: request.team) })
            })
        router.register(
            TrellisV1.EnvironmentService.delete,
            serverStreaming: { request, writer, _ in
                let events = try await engine.delete(request.name)
                try await follow(
                    events, until: [request.name], terminal: [EnvironmentPhase.deleted, EnvironmentPhase.failed], writer
                )
            })
        router.register(
            TrellisV1.EnvironmentService.watch,
            serverStreaming: { request, writer, _ in
                for await event in engine.watch(request.name) { try await write(event, to: writer) }
            })
    }

    /// Resource events may wait a moment to share a write; a phase goes out at once, with
    /// everything before it.
    private static func write(
        _ event: TrellisV1.ProgressEvent, to writer: RPCResponseWriter<TrellisV1.ProgressEvent>
    ) async throws {
        if event.event == .environmentPhase {
            try await writer.write(event)
        } else {
            try await writer.write(coalescing: event)
        }
    }

    /// Writes `events` until every environment in `names` reaches a terminal phase.
    private static func follow(
        _ events: ProgressStream, until names: Set<String>, terminal: Set<String>,
        _ writer: RPCResponseWriter<TrellisV1.ProgressEvent>
    ) async throws {
        var pending = names
        guard !pending.isEmpty else { return }
        for await event in events {
            try await write(event, to: writer)
            if event.event == .environmentPhase, terminal.contains(event.phase) {
                pending.remove(event.environment)
                if pending.isEmpty { return }
            }
        }
        throw RPCError(.unavailable, "engine: the coordinator is shutting down; the operation resumes when it restarts")
    }
}

/// `trellis.v1.CatalogService` over the state store.
enum CatalogService {
    static func register(into router: inout RPCRouter, engine: EnvironmentEngine, store: any StateStore) {
        router.register(
            TrellisV1.CatalogService.put,
            unary: { request, _ in
                TrellisV1.PutDocumentsResponse(
                    documents: try await onPool { try await engine.putDocuments(request.files) })
            })
        router.register(
            TrellisV1.CatalogService.get,
            unary: { request, _ in
                let version = request.version == 0 ? nil : Int64(request.version)
                guard let document = try await store.document(kind: request.kind, name: request.name, version: version)
                else {
                    let which = request.version == 0 ? "" : " version \(request.version)"
                    throw RPCError(.notFound, "catalog: \(request.kind) \(request.name)\(which) does not exist")
                }
                return message(document)
            })
        router.register(
            TrellisV1.CatalogService.list,
            unary: { request, _ in
                let documents = try await store.documents(
                    kind: request.kind.isEmpty ? nil : request.kind, allVersions: request.allVersions)
                return TrellisV1.ListDocumentsResponse(documents: documents.map(message))
            })
        router.register(
            TrellisV1.CatalogService.delete,
            unary: { request, _ in
                let removed = try await store.deleteDocument(kind: request.kind, name: request.name)
                guard removed > 0 else {
                    throw RPCError(.notFound, "catalog: \(request.kind) \(request.name) does not exist")
                }
                return TrellisV1.DeleteDocumentResponse(versionsDeleted: UInt32(clamping: removed))
            })
    }

    private static func message(_ document: CatalogDocument) -> TrellisV1.CatalogDocument {
        TrellisV1.CatalogDocument(
            kind: document.kind, name: document.name, version: UInt32(clamping: document.version),
            bodyJson: document.body, createdAtUnixMs: document.createdAt)
    }
}
