import TrellisAPI
import TrellisDrivers
import TrellisLogging

extension Agent {
    /// One held resource as an observation round sees it.
    struct ObservationItem: Sendable {
        var key: ResourceKey
        var generation: Int
        var decoded: Result<DecodedResource, DriverError>
    }

    /// Observes every held resource each observe interval (and at once after a
    /// welcome), one after the other, until cancelled.
    nonisolated func observationLoop() async {
        while !Task.isCancelled {
            await waitForObservationRound()
            if Task.isCancelled { return }
            for item in await observationItems() {
                let observed = await observe(item)
                await self.observed(observed, of: item)
            }
        }
    }

    /// Waits for the observe interval or for a welcome's request for a round; before
    /// the first welcome, only for the latter.
    private nonisolated func waitForObservationRound() async {
        await observeTrigger.wait(atMost: await observeInterval)
    }

    func observationItems() -> [ObservationItem] {
        held.entries.map { key, entry in
            ObservationItem(key: key, generation: entry.generation, decoded: entry.decoded)
        }.sorted { ($0.key.environment, $0.key.resource) < ($1.key.environment, $1.key.resource) }
    }

    private nonisolated func observe(_ item: ObservationItem) async -> ResourceCondition.Observed {
        let resource: DecodedResource
        switch item.decoded {
        case .success(let value): resource = value
        case .failure(let error): return .failure(error.message)
        }
        guard let driver = registry.driver(named: resource.driver) else {
            return .failure("agent \(configuration.name) does not serve driver \(resource.driver)")
        }
        let request = resource.request(
            dataDirectory: dataDirectory, requestID: "observe", attempt: 1, output: output)
        do {
            return .observation(try await driver.observe(request, applied: resource.applied ?? DriverOutputs()))
        } catch {
            return .failure(error.message)
        }
    }

    /// Records an observation and reports the resource if its condition changed.
    func observed(_ observed: ResourceCondition.Observed, of item: ObservationItem) {
        guard held.record(observed, for: item.key, generation: item.generation) else { return }
        reportIfChanged(item.key)
    }

    /// Reports the resource's condition on the current stream unless it was reported as
    /// it is; only resources observed since they were last (re)held are reported.
    func reportIfChanged(_ key: ResourceKey) {
        guard var current = session, let entry = held.entries[key], let observed = entry.observed else { return }
        let params = try? entry.decoded.get().params
        let condition = ResourceCondition.of(observed, driver: entry.driver, params: params, probe: validProbe(key))
        guard current.reported[key] != condition else { return }
        current.reported[key] = condition
        session = current
        logger.debug(
            "reporting a resource",
            [
                "resource.id": key.description, "health": "\(condition.health)",
                "observation": "\(condition.observation)",
            ])
        send(
            .report(
                TrellisV1.ResourceReport(
                    environment: key.environment, resource: key.resource, health: condition.health,
                    healthMessage: condition.healthMessage, observation: condition.observation,
                    observationMessage: condition.observationMessage, timeUnixMs: Self.nowUnixMilliseconds())))
    }

    /// The latest probe verdict of a `process` resource, if it concerns the program
    /// running now.
    private func validProbe(_ key: ResourceKey) -> HealthChange? {
        guard let probe = probes[key] else { return nil }
        if let supervisor, supervisor.pid(environment: key.environment, resource: key.resource) != probe.pid {
            return nil
        }
        return probe
    }

    // MARK: - Health changes

    /// Reports each health change of a supervised program as it happens.
    nonisolated func forwardHealth(of supervisor: ProcessSupervisor) async {
        for await change in supervisor.healthChanges {
            await healthChanged(change)
        }
    }

    func healthChanged(_ change: HealthChange) {
        let key = ResourceKey(environment: change.environment, resource: change.resource)
        logger.debug(
            "health changed",
            ["resource.id": key.description, "healthy": "\(change.healthy)", "reason": change.reason ?? ""])
        probes[key] = change
        reportIfChanged(key)
    }
}
