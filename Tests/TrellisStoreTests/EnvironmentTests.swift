import Testing
import TrellisStore

@Suite("Environments")
struct EnvironmentTests {
    @Test("an environment reads back as written, at revision 1")
    func roundTrip() async throws {
        try await withStore { (store, _) throws in
            let record = sampleEnvironment("feature-auth", ttlSeconds: 3600)
            #expect(try await store.createEnvironment(record) == 1)
            var expected = record
            expected.revision = 1
            #expect(try await store.environment(named: "feature-auth") == expected)
            #expect(try await store.environment(named: "missing") == nil)
        }
    }

    @Test("creating an environment twice fails with already-exists")
    func duplicateCreate() async throws {
        try await withStore { (store, _) throws in
            try await store.createEnvironment(sampleEnvironment("twice"))
            let error = await #expect(throws: StoreError.self) {
                try await store.createEnvironment(sampleEnvironment("twice"))
            }
            #expect(error?.code == .alreadyExists)
        }
    }

    @Test("a write with a stale revision fails with a conflict and changes nothing")
    func revisionConflict() async throws {
        try await withStore { (store, _) throws in
            try await store.createEnvironment(sampleEnvironment("contended"))
            var first = sampleEnvironment("contended", phase: "Applying")
            first.team = "payments"
            #expect(try await store.replaceEnvironment(first, expectedRevision: 1) == 2)

            // A second writer that also read revision 1 loses.
            let error = await #expect(throws: StoreError.self) {
                try await store.replaceEnvironment(
                    sampleEnvironment("contended", phase: "Deleting"), expectedRevision: 1)
            }
            #expect(error?.code == .conflict)
            #expect(error?.message.contains("expected 1, found 2") == true)
            let stored = try #require(try await store.environment(named: "contended"))
            #expect(stored.phase == "Applying" && stored.team == "payments" && stored.revision == 2)

            // An unconditional phase change still increments the revision.
            #expect(try await store.setEnvironmentPhase("Ready", of: "contended") == 3)
            let phaseConflict = await #expect(throws: StoreError.self) {
                try await store.setEnvironmentPhase("Failed", of: "contended", expectedRevision: 2)
            }
            #expect(phaseConflict?.code == .conflict)
        }
    }

    @Test("updating a missing environment fails with not-found")
    func updateMissing() async throws {
        try await withStore { (store, _) throws in
            let error = await #expect(throws: StoreError.self) {
                try await store.setEnvironmentPhase("Ready", of: "nowhere")
            }
            #expect(error?.code == .notFound)
        }
    }

    @Test("listing filters by phase, team and deletion request")
    func filters() async throws {
        try await withStore { (store, _) throws in
            try await store.createEnvironment(sampleEnvironment("a", phase: "Ready"))
            try await store.createEnvironment(sampleEnvironment("b", phase: "Failed"))
            try await store.createEnvironment(sampleEnvironment("c", phase: "Ready", team: "payments"))
            try await store.write([.requestEnvironmentDeletion(name: "c", expectedRevision: 1)])

            #expect(try await store.environments(matching: .all).map(\.name) == ["a", "b", "c"])
            #expect(try await store.environments(matching: .init(phase: "Ready")).map(\.name) == ["a", "c"])
            #expect(
                try await store.environments(matching: .init(phase: "Ready", team: "identity")).map(\.name) == ["a"])
            #expect(try await store.environments(matching: .init(deletionRequested: true)).map(\.name) == ["c"])
            #expect(try await store.environment(named: "c")?.revision == 2)
        }
    }

    @Test("expired environments are those past creation plus TTL, not yet marked for deletion")
    func ttlExpiry() async throws {
        try await withStore { (store, _) throws in
            let t0: Int64 = 1_700_000_000_000
            try await store.createEnvironment(sampleEnvironment("short", createdAt: t0, ttlSeconds: 60))
            try await store.createEnvironment(sampleEnvironment("long", createdAt: t0, ttlSeconds: 3600))
            try await store.createEnvironment(sampleEnvironment("forever", createdAt: t0))
            try await store.createEnvironment(sampleEnvironment("older", createdAt: t0 - 120_000, ttlSeconds: 60))

            #expect(try await store.expiredEnvironments(now: t0 + 59_999).map(\.name) == ["older"])
            #expect(try await store.expiredEnvironments(now: t0 + 60_000).map(\.name) == ["older", "short"])
            #expect(try await store.expiredEnvironments(now: t0 + 3_600_000).map(\.name) == ["older", "short", "long"])

            try await store.write([.requestEnvironmentDeletion(name: "older", expectedRevision: nil)])
            #expect(try await store.expiredEnvironments(now: t0 + 60_000).map(\.name) == ["short"])
        }
    }

    @Test("deleting an environment removes its resources and journal")
    func deleteCascades() async throws {
        try await withStore { (store, _) throws in
            try await store.createEnvironment(sampleEnvironment("env"))
            try await store.upsertResource(sampleResource("db", in: "env"))
            try await store.appendJournal(journalDraft("env", "db", .intent))
            #expect(try await store.deleteEnvironment(named: "env"))
            #expect(try await store.resources(inEnvironment: "env").isEmpty)
            #expect(try await store.journal(ofEnvironment: "env", after: nil).isEmpty)
            #expect(try await store.deleteEnvironment(named: "env") == false)
        }
    }
}
