import Foundation
import Testing
import TrellisAPI
import TrellisAgent
import TrellisRPC
import TrellisTestSupport

@Suite("The Connect stream")
struct ConnectTests {
    @Test("a started agent says hello with its name, labels, capacity and drivers, then sends heartbeats")
    func helloAndHeartbeats() async throws {
        let fixture = try await AgentFixture.start()
        #expect(await fixture.waitForHellos(1))
        #expect(await eventually { fixture.coordinator.recorded.heartbeats.count >= 3 })
        try await fixture.stop()

        let hello = try #require(fixture.coordinator.recorded.hellos.first)
        #expect(hello.name == TestPKI.clientCommonName)
        #expect(hello.labels == ["zone": "a"])
        #expect(hello.capacity == 4)
        #expect(hello.drivers == ["directory", "exec", "file", "port", "postgres-database", "process"])
        #expect(hello.runningCommandIds.isEmpty)
        #expect(!hello.version.isEmpty)
        #expect(fixture.coordinator.recorded.heartbeats.allSatisfy { $0.timeUnixMs > 1_600_000_000_000 })
    }

    @Test("an APPLY of a file resource writes it under DIR/environments/ENV and returns its outputs")
    func applyFile() async throws {
        let fixture = try await AgentFixture.start()
        #expect(await fixture.waitForHellos(1))
        fixture.coordinator.send(
            TrellisV1.Command(
                id: "apply-1", kind: .apply,
                resource: resource(name: "config", driver: "file", params: #"{"path": "app.env", "content": "A=1\n"}"#),
                attempt: 1))
        let result = try #require(try await fixture.result("apply-1"))
        let path = fixture.dataDirectory + "/environments/dev/app.env"
        let content = try? String(contentsOfFile: path, encoding: .utf8)
        try await fixture.stop()

        #expect(result.ok, "\(result.error)")
        #expect(content == "A=1\n")
        #expect(result.outputsJson.contains(#""path":"\#(path)""#), "\(result.outputsJson)")
        #expect(result.outputsJson.contains(#""sha256":"#))
    }

    @Test("a command for a driver the agent does not serve fails without retry, naming the driver")
    func unknownDriver() async throws {
        let fixture = try await AgentFixture.start()
        #expect(await fixture.waitForHellos(1))
        fixture.coordinator.send(
            TrellisV1.Command(
                id: "apply-x", kind: .apply, resource: resource(name: "db", driver: "mainframe-tape", params: "{}"),
                attempt: 1))
        let result = try #require(try await fixture.result("apply-x"))
        try await fixture.stop()

        #expect(!result.ok)
        #expect(!result.retryable)
        #expect(result.error == "agent \(TestPKI.clientCommonName) does not serve driver mainframe-tape")
    }

    @Test("the same command id runs once: while running, after finishing and after a reconnect")
    func sameIDRunsOnce() async throws {
        let fixture = try await AgentFixture.start()
        #expect(await fixture.waitForHellos(1))
        let environment = fixture.dataDirectory + "/environments/dev"
        let command = TrellisV1.Command(
            id: "apply-once", kind: .apply, resource: countingExec(), attempt: 1)

        fixture.coordinator.send(command)
        fixture.coordinator.send(command)
        #expect(await eventually { FileManager.default.fileExists(atPath: environment + "/started") })
        fixture.coordinator.send(command)
        #expect(FileManager.default.createFile(atPath: environment + "/release", contents: nil))
        let first = try #require(try await fixture.result("apply-once"))
        #expect(first.ok, "\(first.error)")

        // Finished: answered from the kept results.
        fixture.coordinator.send(command)
        let second = try #require(try await fixture.result("apply-once", occurrence: 2))
        #expect(second == first)

        // After a reconnect, the same.
        fixture.coordinator.send(.drop)
        #expect(await fixture.waitForHellos(2))
        fixture.coordinator.send(command)
        let third = try #require(try await fixture.result("apply-once", occurrence: 3))
        #expect(third == first)

        let runs = try String(contentsOfFile: environment + "/runs", encoding: .utf8)
        try await fixture.stop()
        #expect(runs == "run\n")
        #expect(fixture.coordinator.recorded.results.filter { $0.id == "apply-once" }.count == 3)
    }

    @Test("a command running across a reconnect is named in the new hello and its result follows")
    func runningAcrossReconnect() async throws {
        let fixture = try await AgentFixture.start()
        #expect(await fixture.waitForHellos(1))
        let environment = fixture.dataDirectory + "/environments/dev"
        let command = TrellisV1.Command(id: "apply-long", kind: .apply, resource: countingExec(), attempt: 1)
        fixture.coordinator.send(command)
        #expect(await eventually { FileManager.default.fileExists(atPath: environment + "/started") })

        fixture.coordinator.send(.drop)
        #expect(await fixture.waitForHellos(2))
        let hellos = fixture.coordinator.recorded.hellos
        #expect(hellos.count >= 2 && hellos[1].runningCommandIds == ["apply-long"])
        // Sent again by a coordinator that did not wait: not started a second time.
        fixture.coordinator.send(command)
        #expect(FileManager.default.createFile(atPath: environment + "/release", contents: nil))
        let result = try #require(try await fixture.result("apply-long"))
        let runs = try String(contentsOfFile: environment + "/runs", encoding: .utf8)
        try await fixture.stop()

        #expect(result.ok, "\(result.error)")
        #expect(runs == "run\n")
    }

    @Test("after the coordinator drops the stream the agent reconnects and says hello again under its name")
    func reconnects() async throws {
        let fixture = try await AgentFixture.start()
        #expect(await fixture.waitForHellos(1))
        fixture.coordinator.send(.drop)
        #expect(await fixture.waitForHellos(2))
        fixture.coordinator.send(.drop)
        #expect(await fixture.waitForHellos(3))
        #expect(await eventually { fixture.coordinator.recorded.heartbeats.count >= 1 })
        try await fixture.stop()

        #expect(fixture.coordinator.recorded.hellos.map(\.name) == Array(repeating: TestPKI.clientCommonName, count: 3))
    }

    @Test("the agent reconnects to a coordinator restarted on the same port")
    func reconnectsAfterRestart() async throws {
        let fixture = try await AgentFixture.start()
        #expect(await fixture.waitForHellos(1))
        let port = fixture.coordinator.server.address.port
        await fixture.coordinator.stop()

        let restarted = try await FakeCoordinator.start(
            pki: fixture.coordinator.pki, requireClientCertificate: true, port: port)
        let connected = await eventually { !restarted.recorded.hellos.isEmpty }
        fixture.agent.shutdown()
        try await fixture.task.value
        await restarted.stop()
        fixture.coordinator.pki.removeFiles()
        try? FileManager.default.removeItem(atPath: fixture.dataDirectory)

        #expect(connected)
        #expect(restarted.recorded.hellos.first?.name == TestPKI.clientCommonName)
    }
}

/// An exec resource whose apply counts its runs in `runs`, says it started, and waits for
/// a `release` file before it finishes.
private func countingExec() -> TrellisV1.AgentResource {
    let script =
        "echo run >> runs; touch started; while [ ! -e release ]; do sleep 0.02; done; echo '{\"outputs\": {\"n\": 1}}'"
    let escaped = script.replacingOccurrences(of: "\"", with: "\\\"")
    return resource(name: "counter", driver: "exec", params: #"{"apply": ["/bin/sh", "-c", "\#(escaped)"]}"#)
}
