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

    @Test("finishing a resource writes how its run ended and keeps the rest of its row; a missing row is inserted")
    func finish() async throws {
        try await withStore { (store, _) throws in
            try await store.createEnvironment(sampleEnvironment("env"))
            var applying = sampleResource("db", in: "env", phase: "Applying")
            applying.attempts = 1
            applying.startedAt = 1_700_000_000_100
            applying.agent = "host-1"
            try await store.upsertResource(applying)
            try await store.write([.setResourceHealth(environment: "env", name: "db", health: "Healthy", message: "ok")]
            )

            var ready = applying
            ready.phase = "Ready"
            ready.outputs = #"{"url":"postgres://localhost/auth"}"#
            ready.secretOutputKeys = ["password"]
            ready.finishedAt = 1_700_000_000_900
            // Fields a finish does not own: they stay as the row has them.
            ready.params = #"{"changed":"behind the row's back"}"#
            ready.attempts = 7
            try await store.write([.finishResource(ready)])

            var expected = applying
            expected.phase = "Ready"
            expected.outputs = ready.outputs
            expected.secretOutputKeys = ["password"]
            expected.finishedAt = 1_700_000_000_900
            expected.health = "Healthy"
            expected.healthMessage = "ok"
            #expect(try await store.resource(inEnvironment: "env", named: "db") == expected)

            var failed = sampleResource("cache", in: "env", phase: "Failed")
            failed.lastError = "out of memory"
            failed.finishedAt = 1_700_000_001_000
            try await store.write([.finishResource(failed)])
            #expect(try await store.resource(inEnvironment: "env", named: "cache") == failed)
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
