import Synchronization
import TrellisAgent
import TrellisCoordinator
import TrellisLogging

/// The in-process agent of `trellisd --dev`: the same ``Agent`` that `trellis-agent` runs,
/// named `local`, with the label `region=local`, keeping its state in DATA/agent.
final class LocalAgent: LocalAgentRunner {
    private let state = Mutex<(agent: Agent?, task: Task<Void, Never>?)>((nil, nil))

    func start(_ credentials: LocalAgentCredentials) async throws {
        let agent = try Agent(
            configuration: AgentConfiguration(
                name: LocalAgentCredentials.name, labels: ["region": "local"], coordinator: credentials.coordinator,
                serverName: credentials.serverName, identity: credentials.identity, caPEM: credentials.caPEM,
                dataDirectory: credentials.dataDirectory),
            logger: Logger(label: "agent"))
        let task = Task {
            do {
                try await agent.run()
            } catch {
                Logger(label: "agent").error("the local agent stopped", ["error": "\(error)"])
            }
        }
        state.withLock { $0 = (agent, task) }
    }

    func stop() async {
        let (agent, task) = state.withLock { $0 }
        agent?.shutdown()
        await task?.value
    }
}
