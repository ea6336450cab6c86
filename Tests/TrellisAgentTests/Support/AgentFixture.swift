import Foundation
import TrellisAPI
import TrellisAgent
import TrellisLogging
import TrellisRPC
import TrellisTestSupport

/// A running agent against a fake coordinator, in a temporary data directory.
struct AgentFixture: Sendable {
    let coordinator: FakeCoordinator
    let agent: Agent
    let dataDirectory: String
    let task: Task<Void, any Error>

    /// Starts a mutual-TLS fake with `welcome` and an agent named as the test PKI's client.
    static func start(
        welcome: TrellisV1.Welcome = TrellisV1.Welcome(heartbeatIntervalMs: 50, observeIntervalMs: 50),
        prepare: (String) throws -> Void = { _ in }
    ) async throws -> AgentFixture {
        let coordinator = try await FakeCoordinator.start(requireClientCertificate: true, welcome: welcome)
        let directory = try makeTemporaryDirectory()
        try prepare(directory)
        var configuration = AgentConfiguration(
            name: TestPKI.clientCommonName, labels: ["zone": "a"], coordinator: coordinator.server.address,
            serverName: "127.0.0.1", identity: coordinator.pki.client.tlsIdentity,
            caPEM: coordinator.pki.caCertificatePEM, dataDirectory: directory, capacity: 4)
        configuration.backoff = ReconnectBackoff(initial: .milliseconds(20), maximum: .milliseconds(200))
        configuration.shutdownGrace = .seconds(2)
        let agent = try Agent(
            configuration: configuration, logger: Logger(label: "test.agent", sink: TestLogSink.shared))
        let task = Task { try await agent.run() }
        return AgentFixture(coordinator: coordinator, agent: agent, dataDirectory: directory, task: task)
    }

    /// Stops the agent and the fake, and removes the directory.
    func stop() async throws {
        agent.shutdown()
        try await task.value
        await coordinator.stop()
        coordinator.pki.removeFiles()
        try? FileManager.default.removeItem(atPath: dataDirectory)
    }

    /// Waits until the agent's hello arrived `count` times.
    func waitForHellos(_ count: Int) async -> Bool {
        await eventually { coordinator.recorded.hellos.count >= count }
    }

    /// Waits for the result of command `id`, the `occurrence`-th one with that id.
    func result(_ id: String, occurrence: Int = 1) async throws -> TrellisV1.CommandResult? {
        var found: TrellisV1.CommandResult?
        _ = await eventually {
            let matching = coordinator.recorded.results.filter { $0.id == id }
            found = matching.count >= occurrence ? matching[occurrence - 1] : nil
            return found != nil
        }
        return found
    }
}

func makeTemporaryDirectory() throws -> String {
    let path = NSTemporaryDirectory() + "trellis-agent-test-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// A resource for a command or a welcome.
func resource(
    environment: String = "dev", name: String, driver: String, params: String, outputs: String = "{}"
) -> TrellisV1.AgentResource {
    TrellisV1.AgentResource(
        environment: environment, name: name, type: driver, driver: driver, paramsJson: params, outputsJson: outputs)
}
