import Synchronization
import TrellisAPI
import TrellisDomain
import TrellisDrivers
import TrellisEngine
import TrellisStore

/// The agents an environment's resources were placed on during one operation: a new
/// resource goes where its environment's other resources are when it can, so that
/// resources that share files or ports share a host.
final class PlacementTable: Sendable {
    private let agents = Mutex<[String]>([])

    init(_ initial: [String]) {
        agents.withLock { $0 = Array(Set(initial)).sorted() }
    }

    func note(_ agent: String) {
        agents.withLock { if !$0.contains(agent) { $0.append(agent) } }
    }

    var preferred: [String] { agents.withLock { $0 } }
}

extension EnvironmentEngine {
    /// Where a step runs when that is known without waiting: `.some(nil)` for the
    /// coordinator's own drivers, the agent that holds the resource already; nil when an
    /// agent has to be chosen (``target(driver:placement:sticky:table:)``).
    nonisolated func immediateTarget(driver: String, sticky: String?) -> String?? {
        if drivers.driver(named: driver) != nil { return .some(nil) }
        if let sticky, !sticky.isEmpty { return .some(sticky) }
        return nil
    }

    /// Where a step of a resource with `driver` runs: nil for the coordinator's own
    /// drivers, else an agent: `sticky` (the agent that holds the resource already)
    /// when there is one, otherwise a connected agent that matches the placement.
    nonisolated func target(
        driver: String, placement: SpecMap, sticky: String?, table: PlacementTable
    ) async throws(StepError) -> String? {
        if let known = immediateTarget(driver: driver, sticky: sticky) { return known }
        guard let agents else {
            throw StepError("driver \(driver) runs on agents, and this coordinator has none")
        }
        do {
            let agent = try await agents.place(
                driver: driver, selector: Self.selector(placement), preferred: table.preferred, wait: placementWait)
            table.note(agent)
            return agent
        } catch let error as AgentCommandError {
            throw StepError(error.description, retryable: error.retryable)
        } catch {
            throw StepError("placement: \(error)", retryable: true)
        }
    }

    /// The agent labels a placement asks for: `placement.agent`.
    static func selector(_ placement: SpecMap) -> [String: String] {
        var labels: [String: String] = [:]
        for (key, value) in placement["agent"]?.mapValue ?? [:] { labels[key] = StateCoding.text(value) }
        return labels
    }

    /// Applies on the coordinator or on `agent`.
    nonisolated func runApply(
        _ request: DriverRequest, driver: String, on agent: String?
    ) async throws(StepError)
        -> DriverOutputs
    {
        guard let agent else {
            do {
                return try await drivers.driver(named: driver)!.apply(request)
            } catch {
                throw StepError(error.message, retryable: error.retryable)
            }
        }
        let result = try await command(.apply, request, driver: driver, on: agent)
        do {
            return DriverOutputs(
                values: try StateCoding.map(fromJSON: result.outputsJson, what: "outputs"),
                secretKeys: Set(result.secretOutputKeys))
        } catch {
            throw StepError("agent \(agent) returned outputs that are not a JSON object: \(error)")
        }
    }

    /// Deletes on the coordinator or on `agent`.
    nonisolated func runDelete(_ request: DriverRequest, driver: String, on agent: String?) async throws(StepError) {
        guard let agent else {
            guard let local = drivers.driver(named: driver) else {
                throw StepError("driver \(driver) is not available here")
            }
            do {
                try await local.delete(request)
            } catch {
                throw StepError(error.message, retryable: error.retryable)
            }
            return
        }
        _ = try await command(.delete, request, driver: driver, on: agent)
    }

    private nonisolated func command(
        _ kind: TrellisV1.CommandKind, _ request: DriverRequest, driver: String, on agent: String
    ) async throws(StepError) -> TrellisV1.CommandResult {
        guard let agents else { throw StepError("resource is on agent \(agent), and this coordinator has none") }
        let resource = TrellisV1.AgentResource(
            environment: request.environment, name: request.resource, type: request.type, driver: driver,
            paramsJson: SpecValue.map(request.params).canonicalJSON,
            outputsJson: SpecValue.map(request.applied?.values ?? [:]).canonicalJSON,
            secretOutputKeys: (request.applied?.secretKeys ?? []).sorted())
        let result: TrellisV1.CommandResult
        do {
            result = try await agents.run(kind, resource, attempt: request.attempt, on: agent)
        } catch let error as AgentCommandError {
            throw StepError(error.description, retryable: error.retryable)
        } catch {
            throw StepError("agent \(agent): \(error)", retryable: true)
        }
        guard result.ok else { throw StepError(result.error, retryable: result.retryable) }
        return result
    }

    /// The resources placed on `agent` that are applied, as the agent needs them:
    /// params with every placeholder filled from the stored outputs.
    func agentResources(onAgent agent: String) async throws -> [TrellisV1.AgentResource] {
        let held = try await store.resources(onAgent: agent).filter {
            $0.phase == ResourcePhase.ready || $0.phase == ResourcePhase.drifted
        }
        var outputsByEnvironment: [String: [String: SpecMap]] = [:]
        var resources: [TrellisV1.AgentResource] = []
        for record in held {
            if outputsByEnvironment[record.environment] == nil {
                var outputs: [String: SpecMap] = [:]
                for other in try await store.resources(inEnvironment: record.environment) {
                    outputs[other.name] = try StateCoding.map(fromJSON: other.outputs, what: "outputs")
                }
                outputsByEnvironment[record.environment] = outputs
            }
            let params = try StateCoding.map(fromJSON: record.params, what: "params")
            let filled = (try? Substitution.substitute(params, outputs: outputsByEnvironment[record.environment]!))
            resources.append(
                TrellisV1.AgentResource(
                    environment: record.environment, name: record.name, type: record.type, driver: record.driver,
                    paramsJson: SpecValue.map(filled ?? params).canonicalJSON, outputsJson: record.outputs,
                    secretOutputKeys: record.secretOutputKeys))
        }
        return resources
    }
}
