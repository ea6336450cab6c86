import TrellisAPI
import TrellisDomain
import TrellisLogging
import TrellisRPC
import TrellisStore
import TrellisTLS
import TrellisWire

/// `trellis.v1.AgentService` on the agent listener: Discover and Join for hosts without a
/// certificate yet, Connect for agents with one.
enum AgentService {
    static let path = "/trellis.v1.AgentService/"

    static func register(
        into router: inout RPCRouter, hub: AgentHub, store: any StateStore, authority: CertificateAuthority?,
        caPEM: String, logger: Logger
    ) {
        router.register(
            TrellisV1.AgentService.discover,
            unary: { _, _ in TrellisV1.DiscoverResponse(caPem: caPEM) })
        router.register(
            TrellisV1.AgentService.join,
            unary: { request, _ in
                try await join(request, store: store, authority: authority, caPEM: caPEM, logger: logger)
            })
        router.register(
            TrellisV1.AgentService.connect,
            bidirectional: { requests, writer, context in
                // The handler's task lives as long as the stream, and a task keeps the memory
                // its deepest calls needed until it ends: admission is done in frames that
                // end before `serve`'s small loop starts.
                let session = try await connect(requests, writer, context, hub: hub, store: store)
                await serve(session, requests, hub: hub, store: store)
            })
    }

    // MARK: - Join

    static func join(
        _ request: TrellisV1.JoinRequest, store: any StateStore, authority: CertificateAuthority?, caPEM: String,
        logger: Logger
    ) async throws -> TrellisV1.JoinResponse {
        guard let authority else {
            throw RPCError(
                .failedPrecondition,
                "join: this coordinator signs no agent certificates (start trellisd with --client-ca-key)")
        }
        if let problem = AgentName.problem(request.name) { throw RPCError(.invalidArgument, "join: \(problem)") }
        guard let token = try? JoinToken(parsing: request.token) else {
            throw RPCError(.permissionDenied, "join: the join token is malformed (expected ID.SECRET.FINGERPRINT)")
        }
        let certificate: Certificate
        let info: CertificateInfo
        do {
            certificate = try authority.sign(csrPEM: request.csrPem, usage: .client)
            info = try certificate.info()
        } catch {
            throw RPCError(.invalidArgument, "join: the signing request was refused: \(error)")
        }
        guard info.commonName == request.name else {
            throw RPCError(
                .invalidArgument,
                "join: the signing request is for \(info.commonName ?? "no name"), not \(request.name)")
        }
        let now = Clock.nowMilliseconds()
        let stored = try await store.joinToken(id: token.id)
        var labels = request.labels
        for (key, value) in StateCoding.labels(fromJSON: stored?.labels ?? "{}") { labels[key] = value }
        let record = AgentRecord(
            name: request.name, publicKeySHA256: info.publicKeySHA256, labels: StateCoding.json(labels),
            drivers: "[]", capacity: 0, hostname: "", version: "", joinedAt: now, lastSeenAt: now)
        do {
            try await store.write([
                .consumeJoinToken(id: token.id, secretSHA256: token.secretSHA256, agent: request.name, now: now),
                .registerAgent(record),
            ])
        } catch let error as StoreError {
            switch error.code {
            case .tokenUnknown:
                throw RPCError(.permissionDenied, "join: join token \(token.id) is not known to this coordinator")
            case .tokenUsed:
                throw RPCError(.permissionDenied, "join: join token \(token.id) was already used")
            case .tokenExpired:
                throw RPCError(.permissionDenied, "join: join token \(token.id) has expired")
            case .alreadyExists:
                throw RPCError(
                    .alreadyExists, "join: an agent named \(request.name) is already registered with another key")
            default:
                throw error
            }
        }
        logger.info("agent joined", ["agent.name": request.name, "token.id": token.id])
        return TrellisV1.JoinResponse(
            certificatePem: try certificate.pemRepresentation(), caPem: caPEM, labels: labels)
    }

    // MARK: - Connect

    /// Admits a Connect stream: checks the certificate, reads the hello and registers the
    /// agent, in a child task whose memory is freed when it ends (the store, the engine
    /// and the hub are called from there); returns the session, welcomed.
    @inline(never)
    static func connect(
        _ requests: RPCRequestStream<TrellisV1.AgentMessage>, _ writer: RPCResponseWriter<TrellisV1.CoordinatorMessage>,
        _ context: ServerCallContext, hub: AgentHub, store: any StateStore
    ) async throws -> AgentSession {
        guard let certificate = context.peer.certificate, let name = certificate.commonName else {
            throw RPCError(.unauthenticated, "agent: Connect needs the agent's client certificate")
        }
        return try await inChildTask {
            try await admit(requests, writer, certificate: certificate, name: name, hub: hub, store: store)
        }
    }

    /// Reads the hello and registers the agent; returns its session, welcomed.
    private static func admit(
        _ requests: RPCRequestStream<TrellisV1.AgentMessage>, _ writer: RPCResponseWriter<TrellisV1.CoordinatorMessage>,
        certificate: PeerCertificate, name: String, hub: AgentHub, store: any StateStore
    ) async throws -> AgentSession {
        var iterator = requests.makeAsyncIterator()
        guard let first = try await iterator.next(), case .hello(let hello)? = first.body else {
            throw RPCError(.invalidArgument, "agent: the first message on Connect must be a hello")
        }
        guard hello.name == name else {
            throw RPCError(
                .permissionDenied, "agent: the certificate is for \(name); it cannot connect as \(hello.name)")
        }
        if let problem = AgentName.problem(name) { throw RPCError(.invalidArgument, "agent: \(problem)") }
        return try await register(
            hello, certificate: certificate, hub: hub, store: store,
            write: { message in try await writer.write(message) },
            onClose: { requests.stopReading() })
    }

    /// Reads until the agent's side ends, or the hub closes the session (a newer
    /// connection, the agent unreachable, shutdown), which stops the reading.
    ///
    /// A heartbeat only says that the agent is alive, which the session records itself:
    /// thousands of agents' heartbeats cost no trips through the hub actor.
    @inline(never)
    static func serve(
        _ session: AgentSession, _ requests: RPCRequestStream<TrellisV1.AgentMessage>, hub: AgentHub,
        store: any StateStore
    ) async {
        var iterator = requests.makeAsyncIterator()
        while let message = try? await iterator.next() {
            session.heard(at: Clock.nowMilliseconds())
            if case .heartbeat? = message.body { continue }
            await hub.received(message, on: session)
        }
        session.close()
        await hub.disconnected(session)
        _ = try? await store.write([.touchAgent(name: session.name, lastSeenAt: Clock.nowMilliseconds())])
    }

    /// Records the agent and its connection: the store's row, then the hub's session with
    /// the welcome sent first.
    private static func register(
        _ hello: TrellisV1.AgentHello, certificate: PeerCertificate, hub: AgentHub, store: any StateStore,
        write: @escaping @Sendable (TrellisV1.CoordinatorMessage) async throws -> Void,
        onClose: @escaping @Sendable () -> Void
    ) async throws -> AgentSession {
        let name = hello.name
        let now = Clock.nowMilliseconds()
        let record = AgentRecord(
            name: name, publicKeySHA256: certificate.publicKeySHA256, labels: StateCoding.json(hello.labels),
            drivers: StateCoding.json(hello.drivers.sorted()), capacity: Int64(hello.capacity),
            hostname: hello.hostname, version: hello.version, joinedAt: now, lastSeenAt: now)
        do {
            try await store.write([.registerAgent(record)])
        } catch let error as StoreError where error.code == .alreadyExists {
            throw RPCError(.alreadyExists, "agent: an agent named \(name) is already registered with another key")
        }

        let welcome = TrellisV1.Welcome(
            heartbeatIntervalMs: UInt32(clamping: hub.heartbeatInterval.milliseconds),
            observeIntervalMs: UInt32(clamping: hub.observeInterval.milliseconds),
            resources: try await hub.welcomeResources(for: name))
        return await hub.connected(hello, welcome: welcome, write: write, onClose: onClose)
    }

    /// Runs `body` in a child task and returns its result; the child's memory is freed
    /// when it ends, where the calling task would keep it for the rest of its life.
    private static func inChildTask<Result: Sendable>(
        _ body: @escaping @Sendable () async throws -> Result
    ) async throws -> Result {
        try await withThrowingTaskGroup(of: Result.self) { tasks in
            tasks.addTask(operation: body)
            return try await tasks.next()!
        }
    }
}

/// Lets cert-less connections on the agent listener call only Discover, Join and health.
struct AgentListenerInterceptor: RPCInterceptor {
    static let open: Set<String> = [
        TrellisV1.AgentService.discover.path, TrellisV1.AgentService.join.path,
    ]

    func intercept(_ context: inout ServerCallContext) async throws {
        // Checked in a synchronous function: an async function's locals live in its task's
        // memory, and a call's task keeps that memory as long as the call.
        try Self.check(context)
    }

    private static func check(_ context: ServerCallContext) throws {
        if context.peer.certificate != nil || open.contains(context.method)
            || context.method.hasPrefix("/trellis.v1.HealthService/")
        {
            return
        }
        throw RPCError(.unauthenticated, "agent: \(context.method) needs the agent's client certificate")
    }
}

extension Duration {
    /// Whole milliseconds.
    var milliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }
}
