import Glibc
import Synchronization
import TrellisAPI
import TrellisDrivers
import TrellisEcho
import TrellisEngine
import TrellisLogging
import TrellisRPC
import TrellisStore
import TrellisTLS

/// The coordinator process: credentials, the API and agent listeners, and their
/// services, from start until a graceful shutdown.
///
/// `run()` prepares credentials (in dev mode: a CA, a server certificate and the admin
/// token, all written before anything listens), starts both listeners, and returns after
/// ``requestShutdown()``: health turns NOT_SERVING, both listeners send GoAway and drain,
/// then the event loops stop.
public final class Coordinator: Sendable {
    private let options: CoordinatorOptions
    private let logger: Logger
    private let shutdownRequested = Mutex<(requested: Bool, waiter: CheckedContinuation<Void, Never>?)>((false, nil))
    private let addresses = Mutex<(api: SocketAddress?, agent: SocketAddress?)>((nil, nil))

    public init(options: CoordinatorOptions, logger: Logger = Logger(label: "trellisd")) {
        self.options = options
        self.logger = logger
    }

    /// The bound API address, once listening.
    public var apiAddress: SocketAddress? { addresses.withLock { $0.api } }
    /// The bound agent address, once listening.
    public var agentAddress: SocketAddress? { addresses.withLock { $0.agent } }

    /// Asks `run()` to shut down gracefully. Safe from any thread, any number of times.
    public func requestShutdown() {
        let waiter = shutdownRequested.withLock { state -> CheckedContinuation<Void, Never>? in
            state.requested = true
            let waiter = state.waiter
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
    }

    /// Runs until ``requestShutdown()``, then drains and returns. In dev mode, unless
    /// `--no-local-agent`, `localAgent` is started once both listeners are up, with a
    /// certificate for the agent `local` issued by the dev CA, and stopped first at
    /// shutdown.
    public func run(localAgent: (any LocalAgentRunner)? = nil) async throws {
        let apiAddress: SocketAddress
        let agentAddress: SocketAddress
        do {
            apiAddress = try SocketAddress(parsing: options.listen)
            agentAddress = try SocketAddress(parsing: options.agentListen)
        } catch {
            throw CoordinatorError(.configuration, "coordinator: \(error.message)")
        }
        let directory = try DataDirectory(path: options.dataDirectory)
        let credentials: Credentials
        if options.dev {
            credentials = try Credentials.development(in: directory, logger: logger)
        } else {
            credentials = try Credentials.provided(
                certificatePath: options.tlsCertificate!, keyPath: options.tlsKey!, clientCAPath: options.clientCA!,
                clientCAKeyPath: options.clientCAKey, directory: directory, logger: logger)
        }

        let store: SQLiteStore
        do {
            store = try await SQLiteStore.open(
                directory: directory.path, preallocatingLog: true, logger: logger.labelled("store"))
        } catch {
            throw CoordinatorError(
                .configuration, "coordinator: opening the state in \(directory.path) failed", cause: error)
        }
        var executionLimits = ExecutionLimits()
        executionLimits.maxConcurrent = options.parallelism
        executionLimits.defaultPerGroup = options.parallelismPerDriver
        let hub = AgentHub(
            store: store, heartbeatInterval: options.agentHeartbeat, grace: options.agentGrace,
            observeInterval: options.observeInterval, logger: logger.labelled("agents"))
        let engine = EnvironmentEngine(
            store: store, drivers: Self.localDrivers(), agents: hub, placementWait: options.placementWait,
            apiGroup: options.apiGroup,
            limits: executionLimits, logger: logger.labelled("engine"), faults: FaultInjection.fromEnvironment())

        try await hub.start(
            observers: AgentHub.Observers(
                report: { agent, report in await engine.received(report, from: agent) },
                unreachable: { agent in await engine.agentUnreachable(agent) },
                welcomeResources: { agent in try await engine.agentResources(onAgent: agent) }))
        try await engine.start()
        let caFingerprint: String?
        do {
            caFingerprint = try credentials.authority?.certificate.fingerprintSHA256
        } catch {
            throw CoordinatorError(.tls, "coordinator: fingerprinting the CA failed", cause: error)
        }

        let group = try EventLoopGroup(loopCount: options.loops > 0 ? options.loops : EventLoopGroup.defaultLoopCount)
        let health = HealthStatus(services: [
            "trellis.v1.HealthService", "trellis.v1.EnvironmentService", "trellis.v1.CatalogService",
            "trellis.v1.AdminService", "trellis.v1.AgentService",
        ])

        var apiRouter = RPCRouter()
        HealthService.register(into: &apiRouter, status: health)
        EnvironmentService.register(into: &apiRouter, engine: engine)
        CatalogService.register(into: &apiRouter, engine: engine, store: store)
        AdminService.register(
            into: &apiRouter, hub: hub, store: store, caFingerprint: caFingerprint, logger: logger.labelled("admin"))
        if options.enableEcho { EchoService.register(into: &apiRouter) }
        apiRouter.interceptors.append(
            AdminTokenInterceptor(token: credentials.adminToken, exemptServices: ["trellis.v1.HealthService"]))

        var agentRouter = RPCRouter()
        HealthService.register(into: &agentRouter, status: health)
        AgentService.register(
            into: &agentRouter, hub: hub, store: store, authority: credentials.authority,
            caPEM: credentials.clientCAPEM, logger: logger.labelled("agents"))
        agentRouter.interceptors.append(AgentListenerInterceptor())

        let servers: [RPCServer]
        do {
            let api = try RPCServer(
                configuration: ServerConfiguration(
                    name: "api", address: apiAddress,
                    tls: TLSServerConfiguration(identity: credentials.serverIdentity),
                    limits: options.limits),
                router: apiRouter, group: group, logger: logger.labelled("rpc.server"))
            let agent = try RPCServer(
                configuration: ServerConfiguration(
                    name: "agent", address: agentAddress,
                    tls: TLSServerConfiguration(
                        identity: credentials.serverIdentity,
                        clientAuthentication: .optional(trustRootsPEM: credentials.clientCAPEM),
                        sessionTicketKey: credentials.sessionTicketKey),
                    limits: options.limits),
                router: agentRouter, group: group, logger: logger.labelled("rpc.server"))
            let boundAPI = try await api.start()
            let boundAgent = try await agent.start()
            addresses.withLock { $0 = (boundAPI, boundAgent) }
            servers = [api, agent]
            logger.info(
                "ready",
                [
                    "api.address": boundAPI.description, "agent.address": boundAgent.description,
                    "data": directory.path, "mode": options.dev ? "dev" : "production",
                ])
        } catch {
            await engine.stop()
            await hub.stop()
            await group.shutdown()
            await store.close()
            throw error
        }

        var runningLocalAgent: (any LocalAgentRunner)?
        if options.dev, options.localAgent, let localAgent, let authority = credentials.authority,
            let boundAgent = self.agentAddress
        {
            do {
                let identity = try Credentials.localAgentIdentity(
                    name: LocalAgentCredentials.name, authority: authority, in: directory, logger: logger)
                try await localAgent.start(
                    LocalAgentCredentials(
                        coordinator: boundAgent, serverName: "localhost", identity: identity,
                        caPEM: credentials.clientCAPEM, dataDirectory: directory.file("agent")))
                runningLocalAgent = localAgent
            } catch {
                logger.error("the local agent did not start", ["error": "\(error)"])
            }
        }

        await waitForShutdownRequest()
        logger.info("shutting down")
        await runningLocalAgent?.stop()
        health.shutDown()
        // Operations still running resume from the journal at the next start.
        await engine.stop()
        await hub.stop()
        await withTaskGroup(of: Void.self) { tasks in
            for server in servers { tasks.addTask { await server.shutdown() } }
        }
        await group.shutdown()
        await store.close()
        logger.info("stopped")
    }

    /// The drivers the coordinator runs itself: `noop`. `TRELLIS_TEST_NOOP_LOG=FILE` makes
    /// every completed noop apply append `ENV/RESOURCE` to FILE, for tests that count them.
    static func localDrivers() -> DriverRegistry {
        guard let path = getenv("TRELLIS_TEST_NOOP_LOG").map({ String(cString: $0) }) else {
            return DriverRegistry([NoopDriver()])
        }
        return DriverRegistry([
            NoopDriver(onApply: { request in
                let line = Array("\(request.environment)/\(request.resource)\n".utf8)
                let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
                guard fd >= 0 else { return }
                _ = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                close(fd)
            })
        ])
    }

    private func waitForShutdownRequest() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let already = shutdownRequested.withLock { state -> Bool in
                if state.requested { return true }
                state.waiter = continuation
                return false
            }
            if already { continuation.resume() }
        }
    }
}

/// What the in-process agent of dev mode is given.
public struct LocalAgentCredentials: Sendable {
    /// The local agent's name.
    public static let name = "local"
    /// The coordinator's agent listener.
    public var coordinator: SocketAddress
    /// The name the coordinator's certificate carries.
    public var serverName: String
    /// The agent's certificate (issued by the dev CA) and key.
    public var identity: TLSIdentity
    public var caPEM: String
    /// Where the agent keeps its state and the environments' directories.
    public var dataDirectory: String
}

/// Runs the in-process agent; the coordinator knows it only through this.
public protocol LocalAgentRunner: Sendable {
    /// Starts the agent in the background; returns once it is started.
    func start(_ credentials: LocalAgentCredentials) async throws
    /// Stops it; supervised programs keep running, as after any agent restart.
    func stop() async
}
