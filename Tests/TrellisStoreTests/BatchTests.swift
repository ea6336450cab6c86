import Testing
import TrellisStore

@Suite("Atomic batches")
struct BatchTests {
    @Test("a batch applies every mutation and reports an outcome for each")
    func outcomes() async throws {
        try await withStore { (store, _) throws in
            try await store.createEnvironment(sampleEnvironment("env"))
            var ready = sampleResource("db", in: "env")
            ready.phase = "Ready"
            let result = try await store.write([
                .upsertResource(ready),
                .appendJournal(journalDraft("env", "db", .succeeded)),
                .setEnvironmentPhase(name: "env", phase: "Ready", expectedRevision: 1),
                .putDocument(CatalogDocumentDraft(kind: "Template", name: "t", body: "{}", createdAt: 0)),
            ])
            #expect(
                result.outcomes == [
                    .applied, .journalSequence(1), .environmentRevision(2),
                    .document(CatalogPutResult(version: 1, changed: true)),
                ])
            #expect(try await store.environment(named: "env")?.phase == "Ready")
        }
    }

    @Test("a batch that fails midway on a constraint leaves nothing written")
    func failureMidway() async throws {
        try await withStore { (store, _) throws in
            try await store.createEnvironment(sampleEnvironment("env"))
            let error = await #expect(throws: StoreError.self) {
                try await store.write([
                    .upsertResource(sampleResource("db", in: "env")),
                    .appendJournal(journalDraft("env", "db", .intent)),
                    .setEnvironmentPhase(name: "env", phase: "Applying", expectedRevision: nil),
                    .upsertResource(sampleResource("db", in: "no-such-environment")),
                    .appendJournal(journalDraft("env", "db", .started)),
                ])
            }
            #expect(error?.code == .constraint)
            #expect(try await store.resources(inEnvironment: "env").isEmpty)
            #expect(try await store.journal(ofEnvironment: "env", after: nil).isEmpty)
            let environment = try #require(try await store.environment(named: "env"))
            #expect(environment.phase == "Pending" && environment.revision == 1)
        }
    }

    @Test("a conflict in one batch does not undo the batches committed with it")
    func failureIsolatedInGroup() async throws {
        try await withStore { (store, _) throws in
            try await store.createEnvironment(sampleEnvironment("env"))
            let outcomes = await withTaskGroup(of: Bool.self) { group in
                for index in 0..<50 {
                    group.addTask {
                        // Every tenth batch expects a revision that never exists.
                        let expected: Int64? = index % 10 == 0 ? 1_000_000 : nil
                        do {
                            try await store.write([
                                .upsertResource(sampleResource("r\(index)", in: "env")),
                                .setEnvironmentPhase(name: "env", phase: "Applying", expectedRevision: expected),
                            ])
                            return true
                        } catch {
                            return false
                        }
                    }
                }
                return await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 }.count == 45)
            #expect(try await store.resources(inEnvironment: "env").count == 45)
            #expect(try await store.environment(named: "env")?.revision == 46)
            #expect(store.statistics.failedBatches == 5)
        }
    }

    @Test("groups that hold failing batches commit every other batch of theirs")
    func failuresAmongManyGroups() async throws {
        try await withStore { (store, _) throws in
            try await store.createEnvironment(sampleEnvironment("env"))
            // Flushed batches wait for one another's fsyncs, so most of them share commits:
            // a group commits whole when nothing in it fails, and batch by batch otherwise.
            let writers = 200
            let failures = await withTaskGroup(of: Int?.self) { group in
                for index in 0..<writers {
                    group.addTask {
                        let expected: Int64? = index % 10 == 3 ? 1_000_000 : nil
                        do {
                            try await store.write([
                                .upsertResource(sampleResource("r\(index)", in: "env")),
                                .appendJournal(journalDraft("env", "r\(index)", .intent)),
                                .setEnvironmentPhase(name: "env", phase: "Applying", expectedRevision: expected),
                            ])
                            return nil
                        } catch {
                            return index
                        }
                    }
                }
                return await group.reduce(into: Set<Int>()) { if let index = $1 { $0.insert(index) } }
            }
            #expect(failures == Set(stride(from: 3, to: writers, by: 10)))
            let names = Set(try await store.resources(inEnvironment: "env").map(\.name))
            #expect(names == Set((0..<writers).filter { $0 % 10 != 3 }.map { "r\($0)" }))
            #expect(try await store.journal(ofEnvironment: "env", after: nil).count == writers - failures.count)
            #expect(try await store.environment(named: "env")?.revision == Int64(1 + writers - failures.count))
            let statistics = store.statistics
            #expect(statistics.failedBatches == failures.count)
            #expect(statistics.largestCommit > 1)
        }
    }

    @Test("writes and reads after close fail with closed")
    func closed() async throws {
        try await withTemporaryDirectory { (directory) throws in
            let store = try await SQLiteStore.open(directory: directory)
            await store.close()
            await store.close()
            let error = await #expect(throws: StoreError.self) {
                try await store.createEnvironment(sampleEnvironment("late"))
            }
            #expect(error?.code == .closed)
            await #expect(throws: StoreError.self) { try await store.environment(named: "late") }
        }
    }
}
