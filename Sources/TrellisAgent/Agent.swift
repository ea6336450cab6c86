import TrellisAPI
import TrellisDrivers
import TrellisLogging
import TrellisRPC

/// An agent: one host's end of the coordinator's `AgentService/Connect` stream.
///
/// It keeps one mutual-TLS connection to the coordinator, runs the commands it is sent
/// through its drivers (at most ``AgentConfiguration/capacity`` at once), observes and
/// probes the resources it holds and reports their changes, and sends heartbeats. When
/// the stream or the connection ends it reconnects, with backoff, until ``shutdown()``.
///
/// ```swift
/// let agent = try Agent(configuration: configuration)
/// // elsewhere, e.g. on SIGTERM: agent.shutdown()
/// try await agent.run()
/// ```
///
/// The same type serves `trellis-agent` on a target host and the in-process agent of
/// `trellisd --dev`. See docs/agents.md for the stream's contract.
public actor Agent {
    /// What the agent was configured with.
    public nonisolated let configuration: AgentConfiguration
    /// The drivers it serves.
    public nonisolated let registry: DriverRegistry
    /// The supervisor of `process` resources, whose health changes the agent reports.
    nonisolated let supervisor: ProcessSupervisor?
    nonisolated let ownsSupervisor: Bool
    nonisolated let client: RPCClient
    nonisolated let logger: Logger
    nonisolated let dataDirectory: AgentDataDirectory
    nonisolated let output: CountingOutputSink
    nonisolated let stopSignal = StopSignal()
    nonisolated let slots: Slots
    /// Commands admitted to run, in order; the run loop starts each when a slot is free.
    nonisolated let intake: AsyncStream<TrellisV1.Command>
    nonisolated let intakeContinuation: AsyncStream<TrellisV1.Command>.Continuation
    /// Asks the observation loop for a round now (after a welcome).
    nonisolated let observeTrigger = Wakeup()

    var commands: CommandBook
    var held = HeldResources()
    /// The current connection's stream, when one is welcomed.
    var session: Session?
    var sessionCount = 0
    /// The interval of observation rounds, from the latest welcome.
    var observeInterval: Duration?
    /// The latest verdict of the probes of each `process` resource.
    var probes: [ResourceKey: HealthChange] = [:]
    private var started = false

    /// Creates an agent; nothing connects until ``run()``.
    ///
    /// - Parameters:
    ///   - drivers: the drivers to serve; by default ``standardDrivers(supervisor:)``
    ///     with `supervisor`.
    ///   - supervisor: the supervisor of `process` resources, whose `healthChanges` the
    ///     agent consumes (it must be their only consumer). By default the agent makes
    ///     one, and shuts it down (leaving programs running) when it stops.
    /// - Throws: `TLSError` when the identity or CA do not load, `DriverError` when the
    ///   supervisor cannot start.
    public init(
        configuration: AgentConfiguration,
        drivers: DriverRegistry? = nil,
        supervisor: ProcessSupervisor? = nil,
        logger: Logger = Logger(label: "agent")
    ) throws {
        precondition(configuration.capacity > 0, "an agent's capacity must be at least 1")
        let logger = logger.with("agent.name", configuration.name)
        var ownedSupervisor: ProcessSupervisor? = nil
        if supervisor == nil && drivers == nil {
            ownedSupervisor = try ProcessSupervisor()
        }
        let activeSupervisor = supervisor ?? ownedSupervisor
        self.configuration = configuration
        self.supervisor = activeSupervisor
        self.ownsSupervisor = ownedSupervisor != nil
        self.registry = drivers ?? Self.standardDrivers(supervisor: activeSupervisor!)
        do {
            self.client = try RPCClient(
                configuration: configuration.clientConfiguration, logger: logger.labelled("agent.rpc"))
        } catch {
            ownedSupervisor?.shutdown()
            throw error
        }
        self.logger = logger
        self.dataDirectory = AgentDataDirectory(path: configuration.dataDirectory)
        self.output = CountingOutputSink(logger: logger.labelled("agent.output"))
        self.slots = Slots(configuration.capacity)
        self.commands = CommandBook(retention: configuration.resultRetention)
        (intake, intakeContinuation) = AsyncStream.makeStream(of: TrellisV1.Command.self)
    }

    /// The built-in drivers: `file`, `directory`, `port`, `exec`, `process` and
    /// `postgres-database`.
    public static func standardDrivers(supervisor: ProcessSupervisor) -> DriverRegistry {
        DriverRegistry([
            FileDriver(), DirectoryDriver(), PortDriver(), ExecDriver(), ProcessDriver(supervisor: supervisor),
            PostgresDatabaseDriver(),
        ])
    }

    /// Connects, serves commands, observes and reports, reconnecting as needed, until
    /// ``shutdown()``; then lets running commands finish within
    /// ``AgentConfiguration/shutdownGrace``, cancels the rest, closes the connection and,
    /// if the agent made its supervisor, shuts that down (programs keep running).
    ///
    /// Cancelling the calling task stops the agent the same way, without the grace.
    ///
    /// - Throws: ``AgentError`` when the data directory cannot be prepared. Connection
    ///   failures never end `run`; they are logged and retried.
    public func run() async throws {
        precondition(!started, "Agent.run() is called once")
        started = true
        try dataDirectory.prepare()
        logger.info(
            "agent starting",
            [
                "coordinator.address": configuration.coordinator.description,
                "agent.drivers": registry.names.joined(separator: ","),
                "agent.capacity": "\(configuration.capacity)",
            ])

        let execution = CommandExecution(
            agentName: configuration.name, registry: registry, dataDirectory: dataDirectory, output: output)
        await withTaskCancellationHandler {
            await withDiscardingTaskGroup { group in
                group.addTask { [stopSignal, intakeContinuation] in
                    await stopSignal.wait()
                    intakeContinuation.finish()
                }
                group.addTask { await self.untilStopped { await self.connectionLoop() } }
                group.addTask { await self.untilStopped { await self.observationLoop() } }
                if let supervisor {
                    group.addTask { await self.untilStopped { await self.forwardHealth(of: supervisor) } }
                }
                for await command in intake {
                    await slots.acquire()
                    group.addTask { [slots] in
                        let result = await execution.run(command)
                        slots.release()
                        await self.finished(command, result)
                    }
                }
                if await !waitForRunningCommands(within: configuration.shutdownGrace) {
                    logger.warning(
                        "cancelling commands still running after the shutdown grace",
                        ["commands.running": "\(commands.running.count)"])
                    group.cancelAll()
                }
            }
        } onCancel: {
            stopSignal.fire()
        }

        await client.close()
        if ownsSupervisor { supervisor?.shutdown() }
        logger.info("agent stopped")
    }

    /// Asks the agent to stop: ``run()`` stops connecting and returns once running
    /// commands finish (or the grace passes). Idempotent; callable from anywhere,
    /// including a signal handler's queue.
    public nonisolated func shutdown() {
        stopSignal.fire()
    }

    /// Runs `body` until it returns or the agent is asked to stop, whichever is first.
    nonisolated func untilStopped(_ body: @escaping @Sendable () async -> Void) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await body() }
            group.addTask { await self.stopSignal.wait() }
            await group.next()
            group.cancelAll()
        }
    }

    /// Waits until no command runs, or `grace` passes; whether none runs.
    private func waitForRunningCommands(within grace: Duration) async -> Bool {
        let deadline = ContinuousClock.now + grace
        while !commands.running.isEmpty {
            guard ContinuousClock.now < deadline else { return false }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return true
    }

    // MARK: - Commands

    /// Takes a command from the coordinator: runs it, or ignores it because it runs
    /// already, or answers it from the results kept.
    func receive(_ command: TrellisV1.Command) {
        switch commands.admit(command.id) {
        case .run:
            logger.debug(
                "command received",
                ["command.id": command.id, "command.kind": "\(command.kind)", "resource.id": resourceID(command)])
            intakeContinuation.yield(command)
        case .alreadyRunning:
            logger.debug("command already running; its result follows when it finishes", ["command.id": command.id])
        case .answer(let result):
            logger.debug("command already finished; sending its kept result", ["command.id": command.id])
            send(.result(result))
        }
    }

    /// Records a command's result, updates the resources held, and sends the result on
    /// the current stream (it stays kept for a repeat of the command either way).
    func finished(_ command: TrellisV1.Command, _ result: TrellisV1.CommandResult) {
        commands.finish(result)
        if result.ok {
            logger.debug("command succeeded", ["command.id": command.id, "resource.id": resourceID(command)])
        } else {
            logger.info(
                "command failed",
                ["command.id": command.id, "resource.id": resourceID(command), "error": result.error])
        }
        if result.ok, let resource = command.resource {
            let key = ResourceKey(environment: resource.environment, resource: resource.name)
            switch command.kind {
            case .apply:
                held.hold(resource, outputsJSON: result.outputsJson, secretOutputKeys: result.secretOutputKeys)
            case .delete:
                held.release(key)
                probes.removeValue(forKey: key)
                session?.reported.removeValue(forKey: key)
            default:
                break
            }
        }
        send(.result(result))
    }

    private func resourceID(_ command: TrellisV1.Command) -> String {
        guard let resource = command.resource else { return "" }
        return "\(resource.environment)/\(resource.name)"
    }
}
