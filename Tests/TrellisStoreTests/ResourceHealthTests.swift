import Testing
import TrellisStore

@Suite("Resource health, drift and placement")
struct ResourceHealthTests {
    private func readyResource(_ name: String, in environment: String, on agent: String?) -> ResourceRecord {
        var record = sampleResource(name, in: environment, phase: "Ready")
        record.outputs = #"{"port":"5432"}"#
        record.attempts = 1
        record.startedAt = 1_700_000_000_100
        record.finishedAt = 1_700_000_000_200
        record.agent = agent
        return record
    }

    @Test("setting health changes health and its message only")
    func health() async throws {
        try await withStore { (store, _) throws in
            try await store.createEnvironment(sampleEnvironment("env"))
            var record = readyResource("db", in: "env", on: "host-1")
            record.drift = "mode is 0644, expected 0600"
            try await store.upsertResource(record)

            let result = try await store.write([
                .setResourceHealth(environment: "env", name: "db", health: "Unhealthy", message: "connection refused")
            ])
            #expect(result.outcomes == [.applied])
            record.health = "Unhealthy"
            record.healthMessage = "connection refused"
            #expect(try await store.resource(inEnvironment: "env", named: "db") == record)
        }
    }

    @Test("setting drift changes drift only, and an empty drift clears it")
    func drift() async throws {
        try await withStore { (store, _) throws in
            try await store.createEnvironment(sampleEnvironment("env"))
            var record = readyResource("db", in: "env", on: "host-1")
            record.health = "Healthy"
            try await store.upsertResource(record)

            try await store.write([.setResourceDrift(environment: "env", name: "db", drift: "file was removed")])
            record.drift = "file was removed"
            #expect(try await store.resource(inEnvironment: "env", named: "db") == record)

            try await store.write([.setResourceDrift(environment: "env", name: "db", drift: "")])
            record.drift = ""
            #expect(try await store.resource(inEnvironment: "env", named: "db") == record)
        }
    }

    @Test("a report about a resource that does not exist is not an error and creates nothing")
    func missingResource() async throws {
        try await withStore { (store, _) throws in
            try await store.createEnvironment(sampleEnvironment("env"))
            let result = try await store.write([
                .setResourceHealth(environment: "env", name: "gone", health: "Healthy", message: ""),
                .setResourceDrift(environment: "env", name: "gone", drift: "missing"),
                .setResourceHealth(environment: "no-such-env", name: "gone", health: "Healthy", message: ""),
            ])
            #expect(result.outcomes == [.applied, .applied, .applied])
            #expect(try await store.resources(inEnvironment: "env").isEmpty)
        }
    }

    @Test("an upsert writes health and drift of a new resource only; later only their own mutations change them")
    func upsertKeepsReports() async throws {
        try await withStore { (store, _) throws in
            try await store.createEnvironment(sampleEnvironment("env"))
            var record = readyResource("db", in: "env", on: "host-1")
            record.health = "Healthy"
            record.healthMessage = "200 OK"
            record.drift = "port changed"
            try await store.upsertResource(record)
            #expect(try await store.resource(inEnvironment: "env", named: "db") == record)

            try await store.write([
                .setResourceHealth(environment: "env", name: "db", health: "Unhealthy", message: "timeout")
            ])
            var reapplied = readyResource("db", in: "env", on: "host-1")
            reapplied.attempts = 2
            try await store.upsertResource(reapplied)
            var expected = reapplied
            expected.health = "Unhealthy"
            expected.healthMessage = "timeout"
            expected.drift = "port changed"
            #expect(try await store.resource(inEnvironment: "env", named: "db") == expected)

            try await store.write([.setResourceDrift(environment: "env", name: "db", drift: "")])
            expected.drift = ""
            #expect(try await store.resource(inEnvironment: "env", named: "db") == expected)
        }
    }

    @Test("resources on an agent list by environment, then name, and leave out the rest")
    func onAgent() async throws {
        try await withStore { (store, _) throws in
            for environment in ["beta", "alpha"] {
                try await store.createEnvironment(sampleEnvironment(environment))
                try await store.upsertResource(readyResource("web", in: environment, on: "host-1"))
                try await store.upsertResource(readyResource("db", in: environment, on: "host-1"))
                try await store.upsertResource(readyResource("cache", in: environment, on: "host-2"))
                try await store.upsertResource(readyResource("unplaced", in: environment, on: nil))
            }
            let placed = try await store.resources(onAgent: "host-1")
            #expect(placed.map { "\($0.environment)/\($0.name)" } == ["alpha/db", "alpha/web", "beta/db", "beta/web"])
            #expect(placed.first == readyResource("db", in: "alpha", on: "host-1"))
            #expect(try await store.resources(onAgent: "host-3").isEmpty)
        }
    }
}
