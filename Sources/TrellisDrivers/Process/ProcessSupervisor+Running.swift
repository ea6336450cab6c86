import Synchronization
import TrellisDomain

#if canImport(Glibc)
import Glibc
#endif

extension ProcessSupervisor {
    /// Makes the program of `key` run as `spec` describes, and returns its pid.
    ///
    /// The same program already running (same command, environment, working directory
    /// and limits) is kept, with its supervision (restart policy, health check, sink)
    /// updated; a different one is stopped and replaced. With a health check, returns
    /// once the program is healthy, or throws a retryable error after
    /// `Configuration.healthyWithin`.
    public func run(
        _ key: ProcessKey, spec: ProcessSpec, environmentDirectory: String, sink: (any OutputSink)?
    ) async throws(DriverError) -> Int32 {
        let launch = Launch(
            spec: spec, environmentDirectory: environmentDirectory,
            directory: try WorkingDirectory.resolve(spec.workingDirectory, in: environmentDirectory),
            environment: Self.childEnvironment(spec.environment), sink: sink)
        recognise(key, launch: launch)

        enum Decision {
            case keep(pid_t)
            case start
            case replace(Child)
            case wait
        }
        while true {
            let decision = state.withLock { state -> Decision in
                guard state.entries[key] != nil else {
                    state.entries[key] = Entry(
                        launch: launch, identityHash: spec.identityHash, phase: .starting,
                        backoff: configuration.initialBackoff, health: HealthState())
                    return .start
                }
                let healthChanged = state.entries[key]!.launch.spec.health != spec.health
                state.entries[key]!.launch = launch
                if healthChanged { state.entries[key]!.health = HealthState() }
                switch state.entries[key]!.phase {
                case .starting, .stopping:
                    return .wait
                case .running(let child) where state.entries[key]!.identityHash == spec.identityHash:
                    return .keep(child.pid)
                case .running(let child):
                    state.entries[key]!.phase = .stopping(child)
                    return .replace(child)
                case .waitingToRestart, .exited:
                    // Applying repairs now rather than after the backoff.
                    state.entries[key]!.phase = .starting
                    state.entries[key]!.backoff = configuration.initialBackoff
                    return .start
                }
            }

            switch decision {
            case .wait:
                try await pause()
                continue
            case .keep(let pid):
                try await waitUntilHealthy(key, pid: pid)
                return pid
            case .replace(let child):
                await terminate(key, child)
                state.withLock { state in
                    state.entries[key]?.phase = .starting
                    state.entries[key]?.identityHash = spec.identityHash
                }
                fallthrough
            case .start:
                let child: Child
                do {
                    child = try start(key, launch)
                } catch {
                    state.withLock { $0.entries[key]?.phase = .exited(.failedToStart(error.message)) }
                    throw error
                }
                state.withLock { state in
                    state.entries[key]?.phase = .running(child)
                    state.entries[key]?.identityHash = spec.identityHash
                    state.entries[key]?.health = HealthState()
                }
                try await waitUntilHealthy(key, pid: child.pid)
                return child.pid
            }
        }
    }

    /// How the program of `key` compares with `spec`; changes nothing.
    public func observe(_ key: ProcessKey, spec: ProcessSpec, environmentDirectory: String) -> Observation {
        let directory =
            (try? WorkingDirectory.resolve(spec.workingDirectory, in: environmentDirectory)) ?? environmentDirectory
        recognise(
            key,
            launch: Launch(
                spec: spec, environmentDirectory: environmentDirectory, directory: directory,
                environment: Self.childEnvironment(spec.environment), sink: nil))
        return state.withLock { state -> Observation in
            guard let entry = state.entries[key] else { return .missing("process is not running") }
            switch entry.phase {
            case .starting:
                // Being started as applied (first start or a restart by the policy).
                return .matches
            case .stopping:
                return .missing("process is stopping")
            case .exited(let status):
                return .missing("process \(status)")
            case .waitingToRestart:
                // The restart policy brings it back: that is not drift. Its health says
                // it is down meanwhile.
                return .matches
            case .running(let child):
                if entry.identityHash != spec.identityHash {
                    return .drifted(
                        "process \(child.pid) runs an older spec (command, env, workingDir or limits changed)")
                }
                if entry.health.healthy == false {
                    return .drifted("health check failed: \(entry.health.reason ?? "unknown reason")")
                }
                return .matches
            }
        }
    }

    /// Stops the program of `key` with its process group (SIGTERM, then SIGKILL after
    /// the grace) and forgets it, state file included. Stopping what is not running
    /// succeeds.
    public func stop(_ key: ProcessKey, environmentDirectory: String) async throws(DriverError) {
        let launch = Launch(
            spec: ProcessSpec(
                command: ["/bin/true"], environment: [:], workingDirectory: nil, restart: .never, health: nil,
                limits: ProcessSpec.Limits(), outputs: [:]),
            environmentDirectory: environmentDirectory, directory: environmentDirectory, environment: [], sink: nil)
        recognise(key, launch: launch, restart: .never)
        try await stop(key)
        let path = StateFile.path(environmentDirectory: environmentDirectory, resource: key.resource)
        do {
            try StateFile.remove(path)
        } catch {
            throw DriverError("process: removing the state of \(key): \(error)", retryable: true)
        }
    }

    /// Stops and forgets the program of `key`, if this supervisor knows one.
    func stop(_ key: ProcessKey) async throws(DriverError) {
        while true {
            enum Decision {
                case done
                case wait
                case terminate(Child)
            }
            let decision = state.withLock { state -> Decision in
                guard let entry = state.entries[key] else { return .done }
                switch entry.phase {
                case .starting, .stopping:
                    return .wait
                case .running(let child):
                    state.entries[key]!.phase = .stopping(child)
                    return .terminate(child)
                case .waitingToRestart, .exited:
                    state.entries[key] = nil
                    return .done
                }
            }
            switch decision {
            case .done:
                return
            case .wait:
                try await pause()
            case .terminate(let child):
                await terminate(key, child)
                let path = state.withLock { state in
                    defer { state.entries[key] = nil }
                    return state.entries[key]?.launch.statePath(for: key)
                }
                if let path { try? StateFile.remove(path) }
                return
            }
        }
    }

    /// Signals the group of `child` (in phase `.stopping`) and waits until every live
    /// member is gone and the output loop has collected it.
    func terminate(_ key: ProcessKey, _ child: Child) async {
        kill(-child.pid, SIGTERM)
        if await waitUntilGone(key, child, within: configuration.stopGrace) { return }
        kill(-child.pid, SIGKILL)
        _ = await waitUntilGone(key, child, within: .seconds(5))
    }

    private func waitUntilGone(_ key: ProcessKey, _ child: Child, within limit: Duration) async -> Bool {
        let deadline = ContinuousClock.now + limit
        while true {
            let collected = state.withLock { state in
                if case .stopping(let current) = state.entries[key]?.phase, current == child { return false }
                return true
            }
            if collected && !ProcFS.groupIsLive(child.pid) { return true }
            if ContinuousClock.now >= deadline { return false }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Waits until the program `pid` of `key` passes its health check, if it has one.
    private func waitUntilHealthy(_ key: ProcessKey, pid: pid_t) async throws(DriverError) {
        let deadline = ContinuousClock.now + configuration.healthyWithin
        while true {
            enum Verdict {
                case healthy
                case waiting(String?)
                case gone(String)
            }
            let verdict = state.withLock { state -> Verdict in
                guard let entry = state.entries[key] else { return .gone("process was stopped") }
                guard entry.launch.spec.health != nil else { return .healthy }
                switch entry.phase {
                case .running(let child) where child.pid == pid:
                    return entry.health.healthy == true ? .healthy : .waiting(entry.health.reason)
                case .exited(let status), .waitingToRestart(_, let status):
                    return .gone("process \(status)")
                default:
                    return .gone("process \(pid) was replaced")
                }
            }
            switch verdict {
            case .healthy:
                return
            case .gone(let reason):
                throw DriverError("process: \(key) \(reason) before its health check passed", retryable: true)
            case .waiting(let reason):
                if ContinuousClock.now >= deadline {
                    let detail = reason.map { ": \($0)" } ?? ""
                    throw DriverError(
                        "process: \(key) not healthy within \(configuration.healthyWithin)\(detail)",
                        retryable: true)
                }
                try await pause()
            }
        }
    }

    /// Spawns the program of `key` and records it; the caller sets the phase.
    func start(_ key: ProcessKey, _ launch: Launch) throws(DriverError) -> Child {
        // Held until its state file is written: a supervisor that dies in between leaves
        // no program behind that the next one would not know and would start again.
        let spawned = try Spawner.spawn(
            argv: launch.spec.command, environment: launch.environment, directory: launch.directory,
            limits: launch.spec.limits, captureOutput: true, held: true)
        let child = Child(
            pid: spawned.pid, startTicks: ProcFS.status(of: spawned.pid)?.startTicks ?? 0, startedAt: .now,
            adopted: false)
        state.withLock { state in
            state.newPipes.append(PipeRegistration(descriptor: spawned.stdout!, key: key, stream: .stdout))
            state.newPipes.append(PipeRegistration(descriptor: spawned.stderr!, key: key, stream: .stderr))
        }
        wake()

        let record = StateFile(
            pid: child.pid, startTicks: child.startTicks, identityHash: launch.spec.identityHash,
            startedAtNanoseconds: wallClockNanoseconds())
        do {
            try record.write(to: launch.statePath(for: key))
        } catch {
            // Unrecorded, a later agent would start a second copy; better not to run it.
            kill(-child.pid, SIGKILL)
            if let hold = spawned.hold { close(hold) }
            throw DriverError("process: recording \(key): \(error)", retryable: true)
        }
        Spawner.release(spawned)
        return child
    }

    /// Adopts a program that an earlier supervisor started for `key`, when this one knows
    /// none and the state file names a program still running.
    private func recognise(_ key: ProcessKey, launch: Launch, restart: ProcessSpec.RestartPolicy? = nil) {
        guard state.withLock({ $0.entries[key] == nil }) else { return }
        guard let record = StateFile.read(launch.statePath(for: key)),
            ProcFS.isRunning(record.pid, startedAt: record.startTicks)
        else { return }
        var launch = launch
        if let restart { launch.spec.restart = restart }
        let child = Child(pid: record.pid, startTicks: record.startTicks, startedAt: .now, adopted: true)
        state.withLock { state in
            guard state.entries[key] == nil else { return }
            state.entries[key] = Entry(
                launch: launch, identityHash: record.identityHash, phase: .running(child),
                backoff: configuration.initialBackoff, health: HealthState())
        }
    }

    /// The environment a program starts with: `PATH` (the agent's, or a default), then
    /// the spec's variables, which may override it. Nothing else of the agent's own
    /// environment (which may hold credentials) is passed on.
    static func childEnvironment(_ variables: [String: String]) -> [String] {
        var environment = ["PATH": getenv("PATH").map { String(cString: $0) } ?? "/usr/local/bin:/usr/bin:/bin"]
        environment.merge(variables) { _, new in new }
        return environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
    }

    /// A short wait between looks at the state, ending early on cancellation.
    private func pause() async throws(DriverError) {
        do {
            try await Task.sleep(for: .milliseconds(20))
        } catch {
            throw DriverError("process: cancelled", retryable: true)
        }
    }
}
