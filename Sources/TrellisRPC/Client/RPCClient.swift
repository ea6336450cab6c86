import CEpoll
import Synchronization
import TrellisLogging
import TrellisTLS
import TrellisWire

#if canImport(Glibc)
import Glibc
#endif

/// Options for one call.
public struct CallOptions: Sendable {
    /// How long the caller waits; sent to the server, and enforced locally too.
    public var timeout: Duration?
    /// Metadata for the Open frame, added to the client's default metadata.
    public var metadata: [String: String]
    /// Keep retrying the connection, with backoff, until connected or the timeout
    /// passes, instead of failing with `UNAVAILABLE` at the first refusal.
    public var waitForReady: Bool

    public init(timeout: Duration? = nil, metadata: [String: String] = [:], waitForReady: Bool = false) {
        self.timeout = timeout
        self.metadata = metadata
        self.waitForReady = waitForReady
    }
}

/// A client of one Trellis server: calls of every shape over one shared connection,
/// established on first use and re-established (with backoff) after it is lost.
///
/// ```swift
/// let client = try RPCClient(configuration: .init(address: address, tls: tls))
/// let status = try await client.unary(TrellisV1.HealthService.check, request)
/// try await client.serverStreaming(TrellisV1.HealthService.watch, request) { responses in
///     for try await response in responses { ... }
/// }
/// await client.close()
/// ```
///
/// Every failure reaches the caller as an ``RPCError``.
public final class RPCClient: Sendable {
    /// Where to connect and how.
    public struct Configuration: Sendable {
        public var address: SocketAddress
        public var tls: TLSClientConfiguration
        /// Metadata sent on every call, e.g. `authorization`.
        public var defaultMetadata: [String: String]
        public var connectTimeout: Duration
        public var backoff: ConnectionBackoff
        public var limits: ClientLimits

        public init(
            address: SocketAddress,
            tls: TLSClientConfiguration,
            defaultMetadata: [String: String] = [:],
            connectTimeout: Duration = .seconds(10),
            backoff: ConnectionBackoff = ConnectionBackoff(),
            limits: ClientLimits = ClientLimits()
        ) {
            self.address = address
            self.tls = tls
            self.defaultMetadata = defaultMetadata
            self.connectTimeout = connectTimeout
            self.backoff = backoff
            self.limits = limits
        }

        /// Adds `authorization: Bearer TOKEN` to every call.
        public mutating func setBearerToken(_ token: String) {
            defaultMetadata["authorization"] = "Bearer \(token)"
        }
    }

    private enum State {
        case idle
        case connecting(Task<ClientConnection, any Error>)
        case ready(ClientConnection)
        case closed
    }

    public let configuration: Configuration
    private let context: TLSContext
    private let group: EventLoopGroup
    private let ownsGroup: Bool
    private let logger: Logger
    private let state = Mutex<State>(.idle)

    /// Creates a client. Nothing connects until the first call.
    ///
    /// - Parameter group: the loops to run on; by default the client starts one loop of
    ///   its own and stops it in ``close()``.
    public init(
        configuration: Configuration, group: EventLoopGroup? = nil, logger: Logger = Logger(label: "rpc.client")
    )
        throws
    {
        trellis_ignore_sigpipe()
        self.configuration = configuration
        self.context = try TLSContext.client(configuration.tls)
        if let group {
            self.group = group
            self.ownsGroup = false
        } else {
            self.group = try EventLoopGroup(loopCount: 1, namePrefix: "client")
            self.ownsGroup = true
        }
        self.logger = logger
    }

    /// Closes the connection (open calls end with `UNAVAILABLE`) and, if the client
    /// started its own loop, stops it.
    public func close() async {
        let previous = state.withLock { state -> State in
            let previous = state
            state = .closed
            return previous
        }
        switch previous {
        case .ready(let connection):
            await connection.close()
        case .connecting(let task):
            task.cancel()
            if let connection = try? await task.value { await connection.close() }
        case .idle, .closed:
            break
        }
        if ownsGroup { await group.shutdown() }
    }

    /// Connects now if not connected, retrying with backoff until `timeout`.
    public func connect(timeout: Duration? = nil) async throws {
        _ = try await connection(waitForReady: true, until: timeout.map { .now + $0 })
    }

    // MARK: - Connections

    func connection(waitForReady: Bool, until deadline: ContinuousClock.Instant?) async throws -> ClientConnection {
        var delays = configuration.backoff.makeIterator()
        while true {
            do {
                return try await currentConnection()
            } catch let error as RPCError where error.code == .unavailable && waitForReady {
                let delay = delays.next()
                if let deadline, ContinuousClock.now + delay >= deadline { throw error }
                logger.debug("connection failed; retrying", ["error": error.message, "delay": "\(delay)"])
                try await Task.sleep(for: delay)
            }
        }
    }

    private func currentConnection() async throws -> ClientConnection {
        enum Next {
            case use(ClientConnection)
            case wait(Task<ClientConnection, any Error>)
            case closed
        }
        let next: Next = state.withLock { state in
            switch state {
            case .ready(let connection):
                return .use(connection)
            case .connecting(let task):
                return .wait(task)
            case .closed:
                return .closed
            case .idle:
                let task = makeConnectTask()
                state = .connecting(task)
                return .wait(task)
            }
        }
        switch next {
        case .use(let connection):
            if let usable = connection.ifOnLoop({ $0.isUsable }) {
                if usable { return connection }
            } else if await connection.isUsable {
                return connection
            }
            // Lost or going away: forget it and connect again.
            state.withLock { state in
                if case .ready(let current) = state, current === connection { state = .idle }
            }
            return try await currentConnection()
        case .wait(let task):
            do {
                let connection = try await task.value
                state.withLock { state in
                    if case .connecting = state { state = .ready(connection) }
                }
                return connection
            } catch {
                state.withLock { state in
                    if case .connecting = state { state = .idle }
                }
                throw error
            }
        case .closed:
            throw RPCError(.unavailable, "rpc: client is closed")
        }
    }

    private func makeConnectTask() -> Task<ClientConnection, any Error> {
        let configuration = configuration
        let context = context
        let loop = group.nextLoop()
        let logger = logger
        return Task {
            try await ClientConnection.connect(
                to: configuration.address,
                context: context,
                loop: loop,
                limits: configuration.limits,
                timeout: configuration.connectTimeout,
                logger: logger
            )
        }
    }

    // MARK: - Calls

    /// Runs `body` on a call of `path` whose one request is `request`, already sent and
    /// half-closed: the three frames leave together.
    func withCall<Request: WireMessage, R: Sendable>(
        path: String,
        options: CallOptions,
        request: Request,
        _ body: (ClientCall) async throws -> R
    ) async throws -> R {
        let bytes = try ClientCall.encode(request, for: path)
        return try await withCall(path: path, options: options, sending: bytes) { call, sent in
            if !sent {
                try await call.send(bytes: bytes)
                await call.halfClose()
            }
            return try await body(call)
        }
    }

    /// Runs `body` on an open call of `path`, which sends what the call's shape needs.
    func withCall<R: Sendable>(
        path: String,
        options: CallOptions,
        _ body: (ClientCall) async throws -> R
    ) async throws -> R {
        try await withCall(path: path, options: options, sending: nil) { call, _ in try await body(call) }
    }

    /// Runs `body` with an open call, and releases the call afterwards (sending Cancel
    /// if the server has not finished it). A cancelled caller cancels the call. With a
    /// `request`, the call opens with it (see
    /// ``ClientConnection/open(method:metadata:timeout:sending:)``), and `body` hears
    /// whether it went.
    private func withCall<R: Sendable>(
        path: String,
        options: CallOptions,
        sending request: [UInt8]?,
        _ body: (ClientCall, Bool) async throws -> R
    ) async throws -> R {
        let deadline = options.timeout.map { ContinuousClock.now + $0 }
        let connection: ClientConnection
        do {
            connection = try await self.connection(waitForReady: options.waitForReady, until: deadline)
        } catch is CancellationError {
            throw RPCError(.cancelled, "rpc: call cancelled")
        }
        var metadata = configuration.defaultMetadata
        for (key, value) in options.metadata { metadata[key] = value }
        let remaining = deadline.map { ContinuousClock.now.duration(to: $0) }
        if let remaining, remaining <= .zero {
            throw RPCError(.deadlineExceeded, "rpc: deadline exceeded before \(path) started")
        }
        let opened: (id: UInt32, sent: Bool)
        if let now = try connection.ifOnLoop({
            try $0.open(method: path, metadata: metadata, timeout: remaining, sending: request)
        }) {
            opened = now
        } else {
            opened = try await connection.open(method: path, metadata: metadata, timeout: remaining, sending: request)
        }
        let id = opened.id
        let call = ClientCall(connection: connection, streamID: id, path: path)
        do {
            let result = try await withTaskCancellationHandler {
                try await body(call, opened.sent)
            } onCancel: {
                connection.loop.execute { connection.assumeIsolated { $0.cancel(id) } }
            }
            await Self.release(id, on: connection)
            return result
        } catch {
            await Self.release(id, on: connection)
            if let error = error as? RPCError { throw error }
            if error is CancellationError { throw RPCError(.cancelled, "rpc: call cancelled") }
            throw error
        }
    }

    private static func release(_ id: UInt32, on connection: ClientConnection) async {
        if connection.ifOnLoop({ $0.release(id) }) == nil {
            await connection.release(id)
        }
    }

    /// Calls a unary method.
    public func unary<Request, Response>(
        _ method: MethodDescriptor<Request, Response>,
        _ request: Request,
        options: CallOptions = CallOptions()
    ) async throws -> Response {
        // A call the server did not process (it was going away) is retried on a fresh
        // connection: nothing can have happened twice.
        var attempts = 0
        while true {
            do {
                return try await unaryOnce(method, request, options: options)
            } catch let error as RPCError where error.wasNotProcessed && attempts < 3 {
                attempts += 1
                logger.debug("retrying a call the server did not process", ["rpc.method": method.path])
            }
        }
    }

    private func unaryOnce<Request, Response>(
        _ method: MethodDescriptor<Request, Response>,
        _ request: Request,
        options: CallOptions
    ) async throws -> Response {
        try await withCall(path: method.path, options: options, request: request) { call in
            guard let response = try await call.receive(Response.self) else {
                throw RPCError(.internal, "rpc: \(method.path) ended without a response")
            }
            guard try await call.receive(Response.self) == nil else {
                throw RPCError(.internal, "rpc: \(method.path) sent more than one response")
            }
            return response
        }
    }

    /// Calls a server-streaming method; `body` reads the responses. Leaving `body`
    /// before the stream ends cancels the call.
    public func serverStreaming<Request, Response, Result: Sendable>(
        _ method: MethodDescriptor<Request, Response>,
        _ request: Request,
        options: CallOptions = CallOptions(),
        _ body: (RPCResponseStream<Response>) async throws -> Result
    ) async throws -> Result {
        try await withCall(path: method.path, options: options, request: request) { call in
            try await body(RPCResponseStream(call: call))
        }
    }

    /// Calls a client-streaming method; `body` writes the requests, then the client
    /// half-closes and waits for the response.
    public func clientStreaming<Request, Response>(
        _ method: MethodDescriptor<Request, Response>,
        options: CallOptions = CallOptions(),
        _ body: (RPCRequestWriter<Request>) async throws -> Void
    ) async throws -> Response {
        try await withCall(path: method.path, options: options) { call in
            try await body(RPCRequestWriter(call: call))
            await call.halfClose()
            guard let response = try await call.receive(Response.self) else {
                throw RPCError(.internal, "rpc: \(method.path) ended without a response")
            }
            guard try await call.receive(Response.self) == nil else {
                throw RPCError(.internal, "rpc: \(method.path) sent more than one response")
            }
            return response
        }
    }

    /// Calls a bidirectional method; `body` writes and reads as it likes. Leaving
    /// `body` before the server closes the call cancels it.
    public func bidirectional<Request, Response, Result: Sendable>(
        _ method: MethodDescriptor<Request, Response>,
        options: CallOptions = CallOptions(),
        _ body: (RPCRequestWriter<Request>, RPCResponseStream<Response>) async throws -> Result
    ) async throws -> Result {
        try await withCall(path: method.path, options: options) { call in
            try await body(RPCRequestWriter(call: call), RPCResponseStream(call: call))
        }
    }
}
