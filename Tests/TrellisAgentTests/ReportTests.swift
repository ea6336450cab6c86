import Foundation
import Glibc
import Testing
import TrellisAPI
import TrellisAgent
import TrellisTestSupport

@Suite("Reports of held resources")
struct ReportTests {
    @Test("a held file is reported MATCHES, DRIFTED when changed behind the agent's back, MATCHES when restored")
    func driftAndRestore() async throws {
        let held = resource(name: "config", driver: "file", params: #"{"path": "app.env", "content": "A=1\n"}"#)
        var path = ""
        let fixture = try await AgentFixture.start(
            welcome: TrellisV1.Welcome(heartbeatIntervalMs: 40, observeIntervalMs: 40, resources: [held])
        ) { directory in
            try FileManager.default.createDirectory(
                atPath: directory + "/environments/dev", withIntermediateDirectories: true)
            path = directory + "/environments/dev/app.env"
            try write("A=1\n", to: path)
        }
        let coordinator = fixture.coordinator

        #expect(await eventually { coordinator.recorded.reports.count == 1 })
        let first = try #require(coordinator.recorded.reports.first)
        #expect(first.environment == "dev")
        #expect(first.resource == "config")
        #expect(first.observation == .matches)
        #expect(first.health == .healthy)
        #expect(await quietFor(heartbeats: 3, coordinator))
        #expect(coordinator.recorded.reports.count == 1)

        try write("A=2\n", to: path)
        #expect(await eventually { coordinator.recorded.reports.count == 2 })
        let drifted = coordinator.recorded.reports[1]
        #expect(drifted.observation == .drifted)
        #expect(drifted.observationMessage == "content changed")
        #expect(drifted.health == .unhealthy)
        #expect(await quietFor(heartbeats: 3, coordinator))
        #expect(coordinator.recorded.reports.count == 2)

        try write("A=1\n", to: path)
        #expect(await eventually { coordinator.recorded.reports.count == 3 })
        #expect(coordinator.recorded.reports[2].observation == .matches)
        #expect(coordinator.recorded.reports[2].health == .healthy)
        #expect(await quietFor(heartbeats: 3, coordinator))
        #expect(coordinator.recorded.reports.count == 3)

        // A new stream reports every held resource once more.
        coordinator.send(.drop)
        #expect(await fixture.waitForHellos(2))
        #expect(await eventually { coordinator.recorded.reports.count == 4 })
        #expect(coordinator.recorded.reports[3].observation == .matches)
        try await fixture.stop()
    }

    @Test("a resource applied through a command is held and reported; a deleted one is forgotten")
    func appliedThenDeleted() async throws {
        let fixture = try await AgentFixture.start()
        let coordinator = fixture.coordinator
        #expect(await fixture.waitForHellos(1))
        let file = resource(name: "notes", driver: "file", params: #"{"path": "notes.txt", "content": "hi\n"}"#)
        coordinator.send(TrellisV1.Command(id: "apply-notes", kind: .apply, resource: file, attempt: 1))
        #expect(try await fixture.result("apply-notes")?.ok == true)
        #expect(await eventually { coordinator.recorded.reports.contains { $0.resource == "notes" } })

        coordinator.send(TrellisV1.Command(id: "delete-notes", kind: .delete, resource: file, attempt: 1))
        #expect(try await fixture.result("delete-notes")?.ok == true)
        let reports = coordinator.recorded.reports.count
        #expect(await quietFor(heartbeats: 3, coordinator))
        try await fixture.stop()

        #expect(coordinator.recorded.reports.count == reports)
        #expect(!FileManager.default.fileExists(atPath: fixture.dataDirectory + "/environments/dev/notes.txt"))
    }
}

/// Waits for `heartbeats` more heartbeats, a few observe intervals with the test welcome.
private func quietFor(heartbeats: Int, _ coordinator: FakeCoordinator) async -> Bool {
    let start = coordinator.recorded.heartbeats.count
    return await eventually { coordinator.recorded.heartbeats.count >= start + heartbeats }
}

private func write(_ text: String, to path: String) throws {
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    chmod(path, 0o644)
}
