import Synchronization
import TrellisAPI
import TrellisDomain
import TrellisDrivers
import TrellisEngine
import TrellisLogging
import TrellisStore

/// Outputs of finished resources, read by the steps that consume them.
final class OutputTable: Sendable {
    private let table = Mutex<[String: SpecMap]>([:])

    func set(_ resource: String, _ outputs: SpecMap) { table.withLock { $0[resource] = outputs } }
    var snapshot: [String: SpecMap] { table.withLock { $0 } }
}

extension EnvironmentEngine {
    /// The plan of `resolved` against what is applied. Only resources that finished
    /// count as applied; deletions are every stored resource the environment no longer
    /// has, whatever its phase.
    static func diff(_ resolved: ResolvedEnvironment, _ records: [ResourceRecord]) throws -> Plan {
        if records.isEmpty { return Plan.diff(desired: resolved, current: []) }
        let applied = try records.filter { $0.phase == ResourcePhase.ready }.map(StateCoding.applied)
        var plan = Plan.diff(desired: resolved, current: applied)
        let desired = Set(resolved.resources.map(\.name))
        let readyNames = Set(applied.map(\.name))
        let leftovers = records.filter { !desired.contains($0.name) && !readyNames.contains($0.name) }
        for record in leftovers {
            plan.steps.append(Plan.Step(resource: record.name, action: .delete, layer: 0))
        }
        return plan
    }

    /// Each resource's position in `resolved.resources`, by name: a lookup that copies no
    /// resource.
    static func positions(_ resolved: ResolvedEnvironment) -> [String: Int] {
        var positions: [String: Int] = [:]
        positions.reserveCapacity(resolved.resources.count)
        for (position, resource) in resolved.resources.enumerated() { positions[resource.name] = position }
        return positions
    }

    static func planMessage(
        _ resolved: ResolvedEnvironment, _ plan: Plan, positions: [String: Int]? = nil
    ) -> TrellisV1.EnvironmentPlan {
        let positions = positions ?? Self.positions(resolved)
        return TrellisV1.EnvironmentPlan(
            environment: resolved.name,
            resources: plan.steps.map { step in
                let position = positions[step.resource]
                let (action, changes): (TrellisV1.ResourceAction, [String]) =
                    switch step.action {
                    case .create: (.create, [])
                    case .update(let changes): (.update, changes.map(\.description))
                    case .delete: (.delete, [])
                    case .unchanged: (.unchanged, [])
                    }
                return TrellisV1.PlannedResource(
                    name: step.resource, type: position.map { resolved.resources[$0].type } ?? "",
                    driver: position.map { resolved.resources[$0].driver } ?? "", action: action, changes: changes,
                    layer: UInt32(clamping: step.layer),
                    dependsOn: position.map { resolved.resources[$0].dependencies } ?? [])
            },
            layerCount: UInt32(resolved.layers.count))
    }

    /// Re-admits a stored environment whose apply was interrupted, and runs it again:
    /// what finished is not run twice.
    func resumeApply(_ record: EnvironmentRecord) async {
        do {
            let documents = try admission.decoder.decode(record.spec, file: "state:\(record.name)")
            guard case .environment(var environment)? = documents.first?.object else {
                throw EngineError("stored spec of \(record.name) is not an Environment")
            }
            environment.template.version = Int(record.templateVersion)
            guard let template = try await admission.storedTemplate(environment.template) else {
                throw EngineError("template \(record.templateName) version \(record.templateVersion) is gone")
            }
            var definitions: [ResourceDefinition] = []
            for document in try await store.documents(kind: "ResourceDefinition", allVersions: false) {
                if case .resourceDefinition(let definition)? = try admission.decoder.decode(
                    document.body, file: "catalog"
                )
                .first?.object {
                    definitions.append(definition)
                }
            }
            let resolved = try admission.resolver.resolve(environment, template: template, definitions: definitions)
            await runApply(
                AdmittedEnvironment(
                    resolved: resolved, templateVersion: record.templateVersion, specJSON: record.spec))
        } catch {
            logger.error("resuming apply failed", ["env.name": record.name, "error": "\(error)"])
            try? await persist([
                .setEnvironmentPhase(name: record.name, phase: EnvironmentPhase.failed, expectedRevision: nil),
                .appendJournal(journal(record.name, nil, Operation.apply, .failed)),
            ])
            publish(record.name, .environmentPhase, phase: EnvironmentPhase.failed, message: "\(error)")
        }
    }

    /// Applies one admitted environment to completion; one that `isNew` (its record was
    /// created by this apply) has no resources stored.
    func runApply(_ admitted: AdmittedEnvironment, isNew: Bool = false) async {
        let resolved = admitted.resolved
        let name = resolved.name
        do {
            let records = isNew ? [] : try await store.resources(inEnvironment: name)
            let plan = try Self.diff(resolved, records)
            let recordsByName = Dictionary(uniqueKeysWithValues: records.map { ($0.name, $0) })
            let positions = Self.positions(resolved)
            publish(
                name, .planned, phase: EnvironmentPhase.applying,
                plan: Self.planMessage(resolved, plan, positions: positions))

            // Every desired resource that has to run and has a row already, as Pending, in
            // one write, so that no reader takes its old phase for its state. Those without
            // a row read as Pending from `unwritten` until their first transition: writing
            // them all first would hold back the first step by a row per resource.
            var batch = StoreBatch([], durability: .written)
            var unwritten: [ResolvedResource] = []
            var pending: [String: ResourceRecord] = [:]
            var completed: Set<String> = []
            let outputs = OutputTable()
            if records.isEmpty {
                // Nothing stored: every resource runs, and none has a row yet.
                unwritten = resolved.resources
            } else {
                let actions = Dictionary(
                    plan.steps.map { ($0.resource, $0.action) }, uniquingKeysWith: { first, _ in first })
                for resource in resolved.resources {
                    let stepAction = actions[resource.name]
                    // A resource found drifted is applied again even when its spec is unchanged.
                    if stepAction == .unchanged, let record = recordsByName[resource.name], record.drift.isEmpty {
                        completed.insert(resource.name)
                        outputs.set(resource.name, try StateCoding.map(fromJSON: record.outputs, what: "outputs"))
                        continue
                    }
                    guard let previous = recordsByName[resource.name] else {
                        unwritten.append(resource)
                        continue
                    }
                    let record = Self.record(name, resource, phase: ResourcePhase.pending, previous: previous)
                    pending[resource.name] = record
                    batch.append(.upsertResource(record))
                }
            }
            if !batch.isEmpty { try await persist(batch) }
            self.unwritten[name] = unwritten
            defer { self.unwritten[name] = nil }
            publish(name, .environmentPhase, phase: EnvironmentPhase.applying)

            let report = await applyResources(
                resolved, positions: positions, completed: completed, pending: pending, outputs: outputs,
                previous: recordsByName)
            let deletions = plan.steps.filter { $0.action == .delete }.compactMap { recordsByName[$0.resource] }
            let deletionReport = await deleteResources(name, deletions)

            let failed = report.failed + deletionReport.failed
            let phase = failed.isEmpty && report.blocked.isEmpty ? EnvironmentPhase.ready : EnvironmentPhase.failed
            let message = Self.summary(report, deletionReport)
            // A Ready outcome lost with a power cut costs nothing: the apply resumes, finds
            // every resource Ready (or runs again the few whose transitions were lost too)
            // and ends Ready again, so it needs no fsync. A Failed one is flushed: resuming
            // would retry what the caller was told had failed.
            try await persist(
                StoreBatch(
                    [
                        .setEnvironmentPhase(name: name, phase: phase, expectedRevision: nil),
                        .appendJournal(
                            journal(name, nil, Operation.apply, phase == EnvironmentPhase.ready ? .succeeded : .failed)),
                        .compactJournal(environment: name),
                    ], durability: phase == EnvironmentPhase.ready ? .written : .flushed))
            publish(name, .environmentPhase, phase: phase, message: message)
            logger.info("environment applied", ["env.name": name, "env.phase": phase])
        } catch {
            logger.error("apply failed", ["env.name": name, "error": "\(error)"])
            publish(name, .environmentPhase, phase: EnvironmentPhase.failed, message: "engine: \(error)")
        }
    }

    /// Runs every resource of `resolved` not in `completed`, in dependency order; `pending`
    /// holds their Pending records, which each step's records start from.
    private func applyResources(
        _ resolved: ResolvedEnvironment, positions: [String: Int], completed: Set<String>,
        pending: [String: ResourceRecord], outputs: OutputTable, previous: [String: ResourceRecord]
    ) async -> ExecutionReport {
        let name = resolved.name
        let resources = resolved.resources
        let items = resolved.resources.map { WorkItem(id: $0.name, dependencies: $0.dependencies, group: $0.driver) }
        let table = PlacementTable(previous.values.compactMap(\.agent).filter { !$0.isEmpty })
        return await GraphExecutor(limits: limits).run(
            items, completed: completed,
            step: { [self] item, attempt, carried -> FinishedResource? in
                let resource = resources[positions[item.id]!]
                let earlier = previous[resource.name]
                var carried = carried
                let agent: String?
                if let known = self.immediateTarget(driver: resource.driver, sticky: earlier?.agent) {
                    agent = known
                } else {
                    // Placement may wait for an agent: what this step carries goes first.
                    try await self.write([], carrying: carried, environment: name)
                    carried = []
                    agent = try await self.target(
                        driver: resource.driver, placement: resource.placement, sticky: earlier?.agent, table: table)
                }
                var applying =
                    pending[resource.name]
                    ?? Self.record(name, resource, phase: ResourcePhase.pending, previous: earlier)
                applying.phase = ResourcePhase.applying
                applying.attempts = Int64(attempt)
                applying.startedAt = Clock.nowMilliseconds()
                applying.agent = agent
                try await self.write([.upsertResource(applying)], carrying: carried, environment: name)
                self.publish(
                    name, .resourceStarted, resource: resource.name, phase: ResourcePhase.applying, attempt: attempt)
                let params: SpecMap
                do {
                    params = try Substitution.substitute(resource.params, outputs: outputs.snapshot)
                } catch {
                    throw StepError("\(error)")
                }
                let applied = earlier.flatMap { record -> DriverOutputs? in
                    guard record.outputs != "{}",
                        let values = try? StateCoding.map(fromJSON: record.outputs, what: "outputs")
                    else { return nil }
                    return DriverOutputs(values: values, secretKeys: Set(record.secretOutputKeys))
                }
                let produced = try await self.runApply(
                    DriverRequest(
                        environment: name, resource: resource.name, type: resource.type, params: params,
                        attempt: attempt, requestID: "\(name)/\(resource.name)", applied: applied),
                    driver: resource.driver, on: agent)
                var record = applying
                record.phase = ResourcePhase.ready
                record.outputs = SpecValue.map(produced.values).canonicalJSON
                record.secretOutputKeys = produced.secretKeys.sorted()
                record.finishedAt = Clock.nowMilliseconds()
                var done: [StoreMutation] = [.finishResource(record)]
                // Applied, a resource an agent holds matches its spec again.
                if agent != nil { done.append(.setResourceDrift(environment: name, name: resource.name, drift: "")) }
                outputs.set(resource.name, produced.values)
                // Written with the next resource to start (or settled), then published.
                return FinishedResource(
                    mutations: done, resource: resource.name, attempt: attempt,
                    outputs: StateCoding.shown(produced.values, secretKeys: produced.secretKeys))
            },
            settle: { [self] finished in
                do {
                    try await self.write([], carrying: finished, environment: name)
                } catch {
                    // Left Pending in the store: the next apply runs them again.
                    self.logger.error(
                        "writing finished resources failed",
                        [
                            "env.name": name, "resources": finished.map(\.resource).joined(separator: ","),
                            "error": "\(error)",
                        ])
                }
            },
            events: { [self] event in
                // Starts and successes are recorded by the steps themselves: no hop to the actor.
                if case .started = event { return }
                if case .succeeded = event { return }
                await self.recordOutcome(event, environment: name, resources: resources, positions: positions)
            })
    }

    /// Writes `own` with the carried Ready transitions that are not written yet, and tells
    /// the environment's watchers of those it is first to make durable; waits only for a
    /// Ready event another carrier is publishing at that moment. A transition another
    /// carrier is still writing is written again here rather than waited for: the same
    /// finishing update twice costs less than a hop back through the pool. When it returns,
    /// everything carried is written and its Ready event published, so the caller may act
    /// on it.
    private nonisolated func write(
        _ own: [StoreMutation], carrying carried: [FinishedResource], environment name: String
    ) async throws {
        var claimed: [FinishedResource] = []
        var alongside: [FinishedResource] = []
        var others: [FinishedResource] = []
        for resource in carried {
            switch resource.write.take() {
            case .claimed: claimed.append(resource)
            case .alongside: alongside.append(resource)
            case .done: others.append(resource)
            }
        }
        if !claimed.isEmpty || !alongside.isEmpty || !own.isEmpty {
            do {
                try await persistTransition((claimed + alongside).flatMap(\.mutations) + own)
            } catch {
                for resource in claimed { resource.write.failed() }
                throw error
            }
            // Published before the waiting carriers go on, so that a resource's Ready event
            // comes before the starts of what depends on it.
            for resource in claimed + alongside {
                guard resource.write.announce() else {
                    others.append(resource)
                    continue
                }
                publish(
                    name, .resourceReady, resource: resource.resource, phase: ResourcePhase.ready,
                    attempt: resource.attempt, outputs: resource.outputs)
                resource.write.published()
            }
        }
        for resource in others where !resource.write.isWritten {
            guard await !resource.write.written() else { continue }
            // Its carrier failed before writing it: this one tries.
            try await write([], carrying: [resource], environment: name)
        }
    }

    /// Persists and publishes failures, blocks and retries as the executor reports them.
    private func recordOutcome(
        _ event: ExecutionEvent, environment name: String, resources: [ResolvedResource], positions: [String: Int]
    ) async {
        switch event {
        case .failed(let id, let message, let attempts):
            var record = Self.record(name, resources[positions[id]!], phase: ResourcePhase.failed, attempts: attempts)
            record.lastError = message
            record.finishedAt = Clock.nowMilliseconds()
            try? await persistTransition([.upsertResource(record)])
            publish(
                name, .resourceFailed, resource: id, phase: ResourcePhase.failed, message: message, attempt: attempts)
        case .blocked(let id, let dependency):
            var record = Self.record(name, resources[positions[id]!], phase: ResourcePhase.blocked)
            record.lastError = "blocked: \(dependency) failed"
            try? await persistTransition([.upsertResource(record)])
            publish(name, .resourceBlocked, resource: id, phase: ResourcePhase.blocked, message: "\(dependency) failed")
        case .retrying(let id, let attempt, let message, let delay):
            publish(
                name, .resourceRetrying, resource: id, phase: ResourcePhase.applying,
                message: "\(message); retrying in \(delay)", attempt: attempt)
        case .started, .succeeded:
            break
        }
    }

    /// The record of an environment about to be applied.
    static func environmentRecord(
        _ admitted: AdmittedEnvironment, existing: EnvironmentRecord?, now: Int64
    )
        -> EnvironmentRecord
    {
        let resolved = admitted.resolved
        return EnvironmentRecord(
            name: resolved.name, spec: admitted.specJSON, templateName: resolved.template.name,
            templateVersion: admitted.templateVersion, team: resolved.environment.team ?? "",
            labels: StateCoding.json(resolved.environment.labels), phase: EnvironmentPhase.applying,
            createdAt: existing?.createdAt ?? now,
            ttlSeconds: resolved.environment.ttl.map { Int64($0.components.seconds) },
            deletionRequested: false, revision: existing?.revision ?? 0)
    }

    /// The record of `resource` in `phase`.
    static func record(
        _ environment: String, _ resource: ResolvedResource, phase: String, attempts: Int = 0, startedAt: Int64? = nil,
        previous: ResourceRecord? = nil
    ) -> ResourceRecord {
        ResourceRecord(
            environment: environment, name: resource.name, type: resource.type, driver: resource.driver,
            params: SpecValue.map(resource.params).canonicalJSON, dependencies: StateCoding.json(resource.dependencies),
            phase: phase, outputs: previous?.outputs ?? "{}", secretOutputKeys: previous?.secretOutputKeys ?? [],
            attempts: Int64(attempts), startedAt: startedAt, agent: previous?.agent)
    }

    static func summary(_ apply: ExecutionReport, _ deletion: ExecutionReport) -> String {
        var parts: [String] = []
        for id in apply.failed {
            if case .failed(let message, _)? = apply.outcomes[id] { parts.append("\(id) failed: \(message)") }
        }
        if !apply.blocked.isEmpty { parts.append("blocked: " + apply.blocked.joined(separator: ", ")) }
        for id in deletion.failed {
            if case .failed(let message, _)? = deletion.outcomes[id] {
                parts.append("deleting \(id) failed: \(message)")
            }
        }
        return parts.joined(separator: "; ")
    }
}

/// A resource that was applied, with its Ready transition not yet written: the executor
/// hands it to the resources that start next, whose first writes carry it.
struct FinishedResource: Sendable {
    var mutations: [StoreMutation]
    var resource: String
    var attempt: Int
    /// Its outputs as shown to watchers: secrets redacted.
    var outputs: [String: String]
    /// Shared by its carriers: one writes it and publishes it, the others wait for that.
    let write = SharedWrite()
}

/// A failure of the engine itself, not of a resource.
struct EngineError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = "engine: \(description)" }
}
