import TrellisWire

/// Runs before every handler of a router; may reject the call or fill in the context
/// (e.g. the authenticated principal).
public protocol RPCInterceptor: Sendable {
    /// Throws an ``RPCError`` to end the call with that status before the handler runs.
    func intercept(_ context: inout ServerCallContext) async throws
}

/// Maps method paths to handlers. Build it before starting the server.
///
/// ```swift
/// var router = RPCRouter()
/// router.register(TrellisV1.HealthService.check) { request, context in ... }
/// ```
public struct RPCRouter: Sendable {
    struct Route: Sendable {
        let kind: CallKind
        let handle: @Sendable (ServerCall) async throws -> Void
    }

    private(set) var routes: [String: Route] = [:]
    /// Interceptors, run in order before each handler.
    public var interceptors: [any RPCInterceptor] = []

    public init() {}

    func route(for path: String) -> Route? { routes[path] }

    /// The method paths registered, sorted.
    public var methods: [String] { routes.keys.sorted() }

    /// Registers a unary handler: one request in, one response out.
    public mutating func register<Request, Response>(
        _ method: MethodDescriptor<Request, Response>,
        unary handler: @escaping @Sendable (Request, ServerCallContext) async throws -> Response
    ) {
        precondition(method.kind == .unary, "\(method.path) is not a unary method")
        add(method) { call in
            let request = try await call.singleRequest(Request.self)
            let response = try await handler(request, call.context)
            try await call.send(response)
        }
    }

    /// Registers a server-streaming handler: one request in, responses written to the
    /// writer until the handler returns.
    public mutating func register<Request, Response>(
        _ method: MethodDescriptor<Request, Response>,
        serverStreaming handler:
            @escaping @Sendable (Request, RPCResponseWriter<Response>, ServerCallContext)
            async throws -> Void
    ) {
        precondition(method.kind == .serverStreaming, "\(method.path) is not a server-streaming method")
        add(method) { call in
            let request = try await call.singleRequest(Request.self)
            try await handler(request, RPCResponseWriter(call: call), call.context)
        }
    }

    /// Registers a client-streaming handler: requests in until the client half-closes,
    /// one response out.
    public mutating func register<Request, Response>(
        _ method: MethodDescriptor<Request, Response>,
        clientStreaming handler:
            @escaping @Sendable (RPCRequestStream<Request>, ServerCallContext)
            async throws -> Response
    ) {
        precondition(method.kind == .clientStreaming, "\(method.path) is not a client-streaming method")
        add(method) { call in
            let response = try await handler(RPCRequestStream(call: call), call.context)
            try await call.send(response)
        }
    }

    /// Registers a bidirectional handler: requests and responses flow independently.
    public mutating func register<Request, Response>(
        _ method: MethodDescriptor<Request, Response>,
        bidirectional handler:
            @escaping @Sendable (
                RPCRequestStream<Request>, RPCResponseWriter<Response>, ServerCallContext
            ) async throws -> Void
    ) {
        precondition(method.kind == .bidirectionalStreaming, "\(method.path) is not a bidirectional method")
        add(method) { call in
            try await handler(RPCRequestStream(call: call), RPCResponseWriter(call: call), call.context)
        }
    }

    private mutating func add<Request, Response>(
        _ method: MethodDescriptor<Request, Response>,
        _ handle: @escaping @Sendable (ServerCall) async throws -> Void
    ) {
        precondition(routes[method.path] == nil, "\(method.path) is registered twice")
        routes[method.path] = Route(kind: method.kind, handle: handle)
    }
}

/// The requests of a streaming call, decoded as they are consumed.
///
/// Consuming a message returns flow-control credit to the client.
public struct RPCRequestStream<Request: WireMessage>: AsyncSequence, Sendable {
    public typealias Element = Request
    let call: ServerCall

    public struct AsyncIterator: AsyncIteratorProtocol {
        let call: ServerCall

        public mutating func next() async throws -> Request? {
            try await call.nextRequest(Request.self)
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(call: call)
    }

    /// Stops reading, from any task: a read waiting now, and every later one, throws
    /// CANCELLED, so that a handler blocked reading can end its call (for a stream it
    /// decided to close). Responses can still be written.
    public func stopReading() {
        let call = call
        Task { await call.connection.abandonReceive(call.streamID) }
    }
}

/// Writes the responses of a streaming call.
///
/// `write` waits while the client's flow-control window is spent or the connection is
/// backed up, so a slow reader slows the handler instead of growing buffers. It throws
/// once the call has ended (cancelled, deadline passed, connection lost).
public struct RPCResponseWriter<Response: WireMessage>: Sendable {
    let call: ServerCall

    public func write(_ response: Response) async throws {
        try await call.send(response)
    }

    /// Writes `response`, letting it wait up to `ServerLimits.coalescingDelay` (2 ms) for
    /// the responses written after it,
    /// so that they share one TLS record and one write to the socket; a later ``write(_:)``
    /// sends everything at once. For streams of many small messages whose reader can take
    /// them a moment late (progress events), where a write each would cost more than the
    /// messages.
    public func write(coalescing response: Response) async throws {
        try await call.send(response, coalescing: true)
    }
}
