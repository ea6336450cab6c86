import TrellisAPI
import TrellisDomain
import TrellisDrivers
import TrellisEngine
import TrellisLogging
import TrellisStore

extension EnvironmentEngine {
    /// Deletes every resource of environment `name` in reverse dependency order, then the
    /// environment itself.
    func runDelete(_ name: String) async {
        do {
            let records = try await store.resources(inEnvironment: name)
            let dependencies = records.map { (try? StateCoding.strings(fromJSON: $0.dependencies, what: "deps")) ?? [] }
            let graph = try? ResourceGraph(names: records.map(\.name), dependencies: dependencies)
            let layerCount = graph?.layers.count ?? 0
            let plan = TrellisV1.EnvironmentPlan(
                environment: name,
                resources: records.enumerated().map { index, record in
                    TrellisV1.PlannedResource(
                        name: record.name, type: record.type, driver: record.driver, action: .delete,
                        layer: UInt32(layerCount - 1 - (graph?.layerOfNode[index] ?? 0)), dependsOn: dependencies[index]
                    )
                },
                layerCount: UInt32(layerCount))
            publish(name, .planned, phase: EnvironmentPhase.deleting, plan: plan)
            publish(name, .environmentPhase, phase: EnvironmentPhase.deleting)
            let report = await deleteResources(name, records)
            if report.allSucceeded {
                try await persist([.deleteEnvironment(name: name)])
                publish(name, .environmentPhase, phase: EnvironmentPhase.deleted)
                logger.info("environment deleted", ["env.name": name])
            } else {
                let message = Self.summary(ExecutionReport(outcomes: [:]), report)
                try await persist([
                    .setEnvironmentPhase(name: name, phase: EnvironmentPhase.failed, expectedRevision: nil),
                    .appendJournal(journal(name, nil, Operation.delete, .failed)),
                    .compactJournal(environment: name),
                ])
                publish(name, .environmentPhase, phase: EnvironmentPhase.failed, message: message)
            }
        } catch {
            logger.error("delete failed", ["env.name": name, "error": "\(error)"])
            publish(name, .environmentPhase, phase: EnvironmentPhase.failed, message: "engine: \(error)")
        }
    }

    /// Deletes `records` so that a resource goes only after every resource among them
    /// that depends on it.
    func deleteResources(_ name: String, _ records: [ResourceRecord]) async -> ExecutionReport {
        guard !records.isEmpty else { return ExecutionReport(outcomes: [:]) }
        let ids = Set(records.map(\.name))
        let byName = Dictionary(uniqueKeysWithValues: records.map { ($0.name, $0) })
        let items = records.map { record in
            let dependencies = (try? StateCoding.strings(fromJSON: record.dependencies, what: "deps")) ?? []
            return WorkItem(id: record.name, dependencies: dependencies.filter(ids.contains), group: record.driver)
        }
        // Params are filled from the outputs the environment's resources have now, so that
        // a driver deletes what it made (a file at a path that came from another output).
        var current: [String: SpecMap] = [:]
        for record in (try? await store.resources(inEnvironment: name)) ?? records {
            current[record.name] = (try? StateCoding.map(fromJSON: record.outputs, what: "outputs")) ?? [:]
        }
        let outputsByResource = current
        return await GraphExecutor(limits: limits).run(
            WorkItem.reversed(items),
            step: { [self] item, attempt in
                var record = byName[item.id]!
                record.phase = ResourcePhase.deleting
                try await self.persistTransition([.upsertResource(record)])
                self.publish(
                    name, .resourceDeleting, resource: item.id, phase: ResourcePhase.deleting, attempt: attempt)
                let params = (try? StateCoding.map(fromJSON: record.params, what: "params")) ?? [:]
                let outputs = (try? StateCoding.map(fromJSON: record.outputs, what: "outputs")) ?? [:]
                let filled = (try? Substitution.substitute(params, outputs: outputsByResource)) ?? params
                try await self.runDelete(
                    DriverRequest(
                        environment: name, resource: item.id, type: record.type, params: filled, attempt: attempt,
                        requestID: "\(name)/\(item.id)",
                        applied: DriverOutputs(values: outputs, secretKeys: Set(record.secretOutputKeys))),
                    driver: record.driver, on: record.agent.flatMap { $0.isEmpty ? nil : $0 })
                try await self.persistTransition([.deleteResource(environment: name, name: item.id)])
                self.publish(name, .resourceDeleted, resource: item.id, phase: ResourcePhase.deleted, attempt: attempt)
            },
            events: { [self] event in
                if case .failed(let id, let message, let attempts) = event {
                    var record = byName[id]!
                    record.phase = ResourcePhase.failed
                    record.lastError = message
                    try? await self.persistTransition([.upsertResource(record)])
                    self.publish(
                        name, .resourceFailed, resource: id, phase: ResourcePhase.failed, message: message,
                        attempt: attempts)
                }
            })
    }
}
