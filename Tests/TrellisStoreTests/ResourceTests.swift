import Testing
import TrellisStore

@Suite("Resources")
struct ResourceTests {
    @Test("a resource upsert inserts, then replaces every field")
    func upsert() async throws {
        try await withStore { (store, _) throws in
            try await store.createEnvironment(sampleEnvironment("env"))
            let pending = sampleResource("db", in: "env")
            try await store.upsertResource(pending)
            #expect(try await store.resource(inEnvironment: "env", named: "db") == pending)

            var ready = pending
            ready.phase = "Ready"
            ready.outputs = #"{"url":"postgres://localhost/auth","password":"s3cret"}"#
            ready.secretOutputKeys = ["password", "quote\"and\\slash", "ünïcode\n"]
            ready.attempts = 2
            ready.startedAt = 1_700_000_000_100
            ready.finishedAt = 1_700_000_000_900
            ready.lastError = "first attempt: connection refused"
            ready.agent = "host-1"
            try await store.upsertResource(ready)
            #expect(try await store.resource(inEnvironment: "env", named: "db") == ready)
            #expect(try await store.resources(inEnvironment: "env") == [ready])
        }
    }

    @Test("resources list in name order and are removed one by one")
    func listAndDelete() async throws {
        try await withStore { (store, _) throws in
            try await store.createEnvironment(sampleEnvironment("env"))
            for name in ["port", "api", "db"] { try await store.upsertResource(sampleResource(name, in: "env")) }
            #expect(try await store.resources(inEnvironment: "env").map(\.name) == ["api", "db", "port"])
            let result = try await store.write([.deleteResource(environment: "env", name: "db")])
            #expect(result.outcomes == [.removed(1)])
            #expect(try await store.resources(inEnvironment: "env").map(\.name) == ["api", "port"])
        }
    }

    @Test("a resource of an environment that does not exist is refused by the foreign key")
    func foreignKey() async throws {
        try await withStore { (store, _) throws in
            let error = await #expect(throws: StoreError.self) {
                try await store.upsertResource(sampleResource("db", in: "ghost"))
            }
            #expect(error?.code == .constraint)
            #expect(error?.message.contains("FOREIGN KEY constraint failed") == true)
            #expect(error?.message.contains("upsert resource") == true)
        }
    }
}
