import TrellisAPI
import TrellisDomain
import TrellisDrivers
import TrellisLogging
import TrellisStore

extension EnvironmentEngine {
    // MARK: - Reports from agents

    /// An agent's report on a resource it holds: records health and drift when they
    /// changed, publishes the change, and repairs drift when the environment reconciles
    /// automatically.
    func received(_ report: TrellisV1.ResourceReport, from agent: String) async {
        do {
            guard let record = try await store.resource(inEnvironment: report.environment, named: report.resource),
                record.agent == agent
            else { return }
            let health = Self.healthName(report.health)
            let healthMessage = health == Health.healthy ? "" : report.healthMessage
            let drift = Self.drift(report)
            var mutations: [StoreMutation] = []
            if health != record.health || healthMessage != record.healthMessage {
                mutations.append(
                    .setResourceHealth(
                        environment: record.environment, name: record.name, health: health, message: healthMessage))
            }
            if drift != record.drift {
                mutations.append(.setResourceDrift(environment: record.environment, name: record.name, drift: drift))
            }
            guard !mutations.isEmpty else { return }
            try await persistTransition(mutations)
            if health != record.health || healthMessage != record.healthMessage {
                logger.info(
                    "resource health changed",
                    ["env.name": record.environment, "resource": record.name, "health": health])
                publish(
                    record.environment, .resourceHealth, resource: record.name, phase: health, message: healthMessage)
            }
            if drift != record.drift {
                try await driftChanged(record, drift: drift)
            }
            await publishHealth(of: record.environment)
        } catch {
            logger.error(
                "recording a report failed",
                ["env.name": report.environment, "resource": report.resource, "error": "\(error)"])
        }
    }

    /// Acts on a resource found drifted, or found as applied again.
    private func driftChanged(_ record: ResourceRecord, drift: String) async throws {
        let environment = record.environment
        if drift.isEmpty {
            if record.phase == ResourcePhase.drifted {
                var ready = record
                ready.phase = ResourcePhase.ready
                ready.drift = ""
                try await persistTransition([.upsertResource(ready)])
                publish(environment, .resourceReady, resource: record.name, phase: ResourcePhase.ready)
            }
            return
        }
        logger.info("resource drifted", ["env.name": environment, "resource": record.name, "drift": drift])
        publish(environment, .resourceDrifted, resource: record.name, phase: record.phase, message: drift)
        guard record.phase == ResourcePhase.ready else { return }
        guard let environmentRecord = try await store.environment(named: environment) else { return }
        if Self.reconcileMode(environmentRecord) == .auto {
            // With an operation running, the repair waits for it to end (see `finished`).
            guard claim(environment, .repair) else { return }
            launch(environment) { engine in await engine.repair(environment, record.name) }
        } else {
            var drifted = record
            drifted.phase = ResourcePhase.drifted
            drifted.drift = drift
            try await persistTransition([.upsertResource(drifted)])
            publish(environment, .resourceDrifted, resource: record.name, phase: ResourcePhase.drifted, message: drift)
        }
    }

    /// After an operation of `environment` ends: repairs its Ready resources whose drift
    /// was recorded meanwhile, one operation for all of them, when it reconciles
    /// automatically.
    func repairPendingDrift(of environment: String) async {
        guard !isRunning(environment),
            let record = try? await store.environment(named: environment), !record.deletionRequested,
            Self.reconcileMode(record) == .auto,
            let drifted = try? await store.resources(inEnvironment: environment).filter({
                $0.phase == ResourcePhase.ready && !$0.drift.isEmpty
            }),
            !drifted.isEmpty
        else { return }
        guard claim(environment, .repair) else { return }
        launch(environment) { engine in
            for resource in drifted { await engine.repair(environment, resource.name) }
        }
    }

    /// Applies one drifted resource again, and only it, where it is.
    func repair(_ environment: String, _ name: String) async {
        do {
            let records = try await store.resources(inEnvironment: environment)
            guard var record = records.first(where: { $0.name == name }), record.phase == ResourcePhase.ready,
                !record.drift.isEmpty
            else { return }
            var outputs: [String: SpecMap] = [:]
            for other in records { outputs[other.name] = try StateCoding.map(fromJSON: other.outputs, what: "outputs") }
            let params = try Substitution.substitute(
                try StateCoding.map(fromJSON: record.params, what: "params"), outputs: outputs)
            let applied = DriverOutputs(values: outputs[name] ?? [:], secretKeys: Set(record.secretOutputKeys))
            logger.info("repairing drift", ["env.name": environment, "resource": name, "drift": record.drift])
            publish(
                environment, .resourceStarted, resource: name, phase: ResourcePhase.applying,
                message: "repairing: \(record.drift)", attempt: 1)
            do {
                let produced = try await runApply(
                    DriverRequest(
                        environment: environment, resource: name, type: record.type, params: params, attempt: 1,
                        requestID: "\(environment)/\(name)/repair", applied: applied),
                    driver: record.driver, on: record.agent.flatMap { $0.isEmpty ? nil : $0 })
                record.outputs = SpecValue.map(produced.values).canonicalJSON
                record.secretOutputKeys = produced.secretKeys.sorted()
                record.drift = ""
                record.lastError = nil
                record.finishedAt = Clock.nowMilliseconds()
                try await persistTransition([
                    .upsertResource(record), .setResourceDrift(environment: environment, name: name, drift: ""),
                ])
                publish(
                    environment, .resourceReady, resource: name, phase: ResourcePhase.ready,
                    outputs: StateCoding.shown(produced.values, secretKeys: produced.secretKeys))
            } catch {
                record.lastError = "repair failed: \(error)"
                try await persistTransition([.upsertResource(record)])
                publish(
                    environment, .resourceFailed, resource: name, phase: record.phase,
                    message: "repair failed: \(error)")
            }
            await publishHealth(of: environment)
        } catch {
            logger.error("repair failed", ["env.name": environment, "resource": name, "error": "\(error)"])
        }
    }

    /// Every resource on `agent` has Unknown health while the agent is unreachable.
    func agentUnreachable(_ agent: String) async {
        do {
            let held = try await store.resources(onAgent: agent)
            let message = "agent \(agent) is unreachable"
            let changed = held.filter { $0.health != Health.unknown || $0.healthMessage != message }
            guard !changed.isEmpty else { return }
            try await persistTransition(
                changed.map {
                    .setResourceHealth(
                        environment: $0.environment, name: $0.name, health: Health.unknown, message: message)
                })
            for record in changed {
                publish(
                    record.environment, .resourceHealth, resource: record.name, phase: Health.unknown, message: message)
            }
            for environment in Set(changed.map(\.environment)) { await publishHealth(of: environment) }
        } catch {
            logger.error(
                "marking resources of an unreachable agent failed", ["agent.name": agent, "error": "\(error)"])
        }
    }

    /// Publishes the environment's health roll-up when it changed.
    func publishHealth(of environment: String) async {
        guard let records = try? await store.resources(inEnvironment: environment) else { return }
        let health = Self.rollUp(records)
        guard publishedHealth[environment] != health else { return }
        publishedHealth[environment] = health
        publish(environment, .environmentHealth, phase: health)
    }

    // MARK: - Coding

    static func healthName(_ state: TrellisV1.HealthState) -> String {
        switch state {
        case .healthy: Health.healthy
        case .unhealthy: Health.unhealthy
        default: Health.unknown
        }
    }

    /// How a report says the resource differs from what was applied; empty when it does not.
    static func drift(_ report: TrellisV1.ResourceReport) -> String {
        switch report.observation {
        case .drifted: report.observationMessage.isEmpty ? "drifted" : report.observationMessage
        case .missing: "missing: " + (report.observationMessage.isEmpty ? "gone" : report.observationMessage)
        default: ""
        }
    }

    /// The environment's health from its resources': Degraded when one held by an agent
    /// is unhealthy or drifted, Unknown when one has no verdict, else Healthy.
    static func rollUp(_ records: [ResourceRecord]) -> String {
        let held = records.filter { !($0.agent ?? "").isEmpty }
        if held.contains(where: { $0.health == Health.unhealthy || !$0.drift.isEmpty }) { return Health.degraded }
        if held.contains(where: { $0.health != Health.healthy }) { return Health.unknown }
        return Health.healthy
    }

    static func reconcileMode(_ record: EnvironmentRecord) -> ReconcileMode {
        let spec = try? StateCoding.value(fromJSON: record.spec, what: "\(record.name).spec")
        let text = spec?.mapValue?["spec"]?.mapValue?["reconcile"]?.stringValue
        return text.flatMap(ReconcileMode.init(rawValue:)) ?? .auto
    }
}
