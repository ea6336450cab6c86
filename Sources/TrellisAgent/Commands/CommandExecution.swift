import Glibc
import TrellisAPI
import TrellisDomain
import TrellisDrivers

/// Runs one command through the driver registry and turns what happened into a
/// ``TrellisV1/CommandResult``; never throws, since every failure is a result.
struct CommandExecution: Sendable {
    let agentName: String
    let registry: DriverRegistry
    let dataDirectory: AgentDataDirectory
    let output: any OutputSink

    func run(_ command: TrellisV1.Command) async -> TrellisV1.CommandResult {
        var result = TrellisV1.CommandResult(id: command.id)
        guard let resource = command.resource else {
            return failed(result, "agent: command \(command.id) carries no resource")
        }
        let decoded: DecodedResource
        switch DecodedResource.decode(resource) {
        case .success(let value): decoded = value
        case .failure(let error): return failed(result, error.message)
        }
        guard let driver = registry.driver(named: decoded.driver) else {
            return failed(result, "agent \(agentName) does not serve driver \(decoded.driver)")
        }
        let request = decoded.request(
            dataDirectory: dataDirectory, requestID: command.id, attempt: max(1, Int(command.attempt)),
            output: output)

        do throws(DriverError) {
            switch command.kind {
            case .apply:
                try makeEnvironmentDirectory(decoded.key.environment)
                let outputs = try await driver.apply(request)
                (result.outputsJson, result.secretOutputKeys) = outputs.wireForm
            case .delete:
                try await driver.delete(request)
            case .observe:
                let observation = try await driver.observe(request, applied: decoded.applied ?? DriverOutputs())
                (result.observation, result.observationMessage) = observation.wireForm
            case .unspecified, .unrecognized:
                return failed(result, "agent: command \(command.id) has an unknown kind \(command.kind)")
            }
        } catch {
            result.error = error.message
            result.retryable = error.retryable
            return result
        }
        result.ok = true
        return result
    }

    private func failed(_ result: TrellisV1.CommandResult, _ message: String) -> TrellisV1.CommandResult {
        var result = result
        result.ok = false
        result.error = message
        result.retryable = false
        return result
    }

    /// `DIR/environments/ENV`, created (0700) before the first apply in it.
    private func makeEnvironmentDirectory(_ environment: String) throws(DriverError) {
        let path = dataDirectory.environmentDirectory(environment)
        if mkdir(path, 0o700) != 0 && errno != EEXIST {
            throw DriverError("agent: creating \(path) failed: \(String(cString: strerror(errno)))", retryable: true)
        }
    }
}

extension Observation {
    /// The observation as the wire carries it.
    var wireForm: (TrellisV1.ObservationState, String) {
        switch self {
        case .matches: (.matches, "")
        case .drifted(let reason): (.drifted, reason)
        case .missing(let reason): (.missing, reason)
        }
    }
}
