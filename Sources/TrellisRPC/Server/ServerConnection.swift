import TrellisLogging
import TrellisTLS
import TrellisWire

/// One accepted connection: its transport, its streams and the handler tasks serving
/// them. Runs on the event loop that owns the socket.
///
/// Streams are opened by the client with increasing ids. Each runs its handler in a task
/// that prefers this loop as its executor, so a handler that only awaits this connection
/// never leaves the loop's thread.
actor ServerConnection: TransportDelegate, LoopBoundActor {
    nonisolated let loop: EventLoop
    nonisolated var unownedExecutor: UnownedSerialExecutor { loop.asUnownedSerialExecutor() }

    private let transport: FramedTransport
    private let shared: ServerShared
    private let logger: Logger
    private var streams: [UInt32: StreamState] = [:]
    private var tasks: [UInt32: Task<Void, Never>] = [:]
    private var deadlineTimers: [UInt32: TimerID] = [:]
    private var highestStreamID: UInt32 = 0
    private var draining = false
    private var closed = false
    private var peerIdentity: PeerIdentity
    /// When the last stream ended, or the connection became ready with none.
    private var idleSince: ContinuousClock.Instant = .now
    private var pingSentAt: ContinuousClock.Instant?
    private var housekeepingTimer: TimerID?
    /// When `housekeepingTimer` fires.
    private var housekeepingDeadline: ContinuousClock.Instant?
    private var pingCount: UInt64 = 0

    init(loop: EventLoop, transport: FramedTransport, shared: ServerShared) {
        self.loop = loop
        self.transport = transport
        self.shared = shared
        self.logger = shared.logger.with("peer.address", transport.peer)
        self.peerIdentity = PeerIdentity(address: transport.peer, certificate: nil)
    }

    /// Starts the handshake. Called once, on the loop.
    func start() {
        transport.delegate = self
        do {
            try transport.start()
        } catch {
            logger.warning("connection could not be registered", ["error": "\(error)"])
            transport.abort(TransportError(.unavailable, "\(error)"))
            return
        }
        scheduleHousekeeping(after: shared.limits.handshakeTimeout)
    }

    // MARK: - Transport events

    nonisolated func transportDidBecomeReady() {
        assumeIsolated { connection in
            let transport = connection.transport
            connection.peerIdentity = PeerIdentity(
                address: transport.peer, certificate: transport.peerCertificate,
                resumedSession: transport.resumedSession)
            connection.idleSince = .now
            connection.logger.debug(
                "connection ready",
                ["tls.version": transport.negotiatedProtocolVersion, "tls.resumed": "\(transport.resumedSession)"])
            connection.scheduleHousekeeping(after: connection.nextHousekeepingDelay())
        }
    }

    nonisolated func transportDidReceive(_ frame: WireV1.Frame) {
        assumeIsolated { $0.handle(frame) }
    }

    nonisolated func transportDidDrain() {
        assumeIsolated { connection in
            for stream in connection.streams.values { stream.resumeWriters() }
        }
    }

    nonisolated func transportDidClose(_ error: TransportError?) {
        assumeIsolated { $0.didClose(error) }
    }

    // MARK: - Frames

    private func handle(_ frame: WireV1.Frame) {
        pingSentAt = nil
        let id = frame.streamId
        if let violation = FrameRules.violation(of: frame, receivedBy: .server) {
            protocolError(.invalidArgument, violation)
            return
        }
        switch frame.kind {
        case .open(let open):
            handleOpen(id, open)
        case .message(let message):
            guard let stream = streams[id] else {
                rejectUnknownStream(id)
                return
            }
            switch stream.deliver(message.data) {
            case .accepted(let credit):
                if let credit { transport.send(Frames.credit(id, bytes: credit)) }
            case .flowControlViolation:
                end(id, RPCError(.resourceExhausted, "rpc: stream \(id) sent beyond its flow-control window"))
            case .afterFinish:
                end(id, RPCError(.failedPrecondition, "rpc: stream \(id) sent a message after HalfClose"))
            case .ignored:
                break
            }
        case .halfClose:
            guard let stream = streams[id] else {
                rejectUnknownStream(id)
                return
            }
            if stream.inboundFinished {
                end(id, RPCError(.failedPrecondition, "rpc: stream \(id) sent HalfClose twice"))
                return
            }
            stream.finishInbound()
        case .cancel:
            end(id, nil)
        case .close:
            // FrameRules refuses a Close from a client before it gets here.
            break
        case .credit(let credit):
            streams[id]?.addCredit(credit.bytes)
        case .ping(let ping):
            transport.send(Frames.pong(ping.payload))
        case .pong:
            break
        case .goAway:
            // The client will open nothing more; its streams may still finish.
            break
        case nil:
            // The frame decoder rejects frames without a kind before they get here.
            break
        }
    }

    private func handleOpen(_ id: UInt32, _ open: WireV1.Open) {
        guard id > highestStreamID else {
            protocolError(.invalidArgument, "rpc: stream id \(id) is not greater than \(highestStreamID)")
            return
        }
        highestStreamID = id
        transport.lastProcessedStreamID = id
        if draining {
            transport.send(Frames.close(id, RPCError.notProcessed("rpc: server is shutting down")))
            return
        }
        let limits = shared.limits
        guard streams.count < limits.maxConcurrentStreams else {
            transport.send(
                Frames.close(
                    id,
                    RPCError(
                        .resourceExhausted,
                        "rpc: connection has \(limits.maxConcurrentStreams) concurrent streams, the limit")))
            return
        }
        let metadata: [String: String]
        switch CallMetadata.validate(open.metadata) {
        case .success(let valid):
            metadata = valid
        case .failure(let error):
            transport.send(Frames.close(id, error))
            return
        }
        let metadataSize = open.metadata.reduce(0) { $0 + $1.key.utf8.count + $1.value.utf8.count }
        guard metadataSize <= limits.maxMetadataSize else {
            transport.send(
                Frames.close(
                    id,
                    RPCError(
                        .resourceExhausted,
                        "rpc: metadata of \(metadataSize) bytes exceeds the limit of \(limits.maxMetadataSize)")))
            return
        }
        guard let route = shared.router.route(for: open.method) else {
            transport.send(Frames.close(id, RPCError(.unimplemented, "rpc: unknown method \(open.method)")))
            return
        }

        let stream = StreamState(id: id, initialWindow: limits.initialWindow)
        streams[id] = stream
        var deadline: ContinuousClock.Instant?
        if open.timeoutMs > 0 {
            let instant = ContinuousClock.now + .milliseconds(Int64(clamping: open.timeoutMs))
            deadline = instant
            deadlineTimers[id] = loop.scheduleTimer(at: instant) { [weak self] in
                self?.assumeIsolated { $0.deadlinePassed(id) }
            }
        }
        let requestID = metadata["request-id"].flatMap { $0.isEmpty ? nil : $0 } ?? RequestID.make()
        let context = ServerCallContext(
            method: open.method,
            metadata: metadata,
            peer: peerIdentity,
            requestID: requestID,
            deadline: deadline,
            connectionLogger: logger
        )
        let handler = Handler(route: route, interceptors: shared.router.interceptors)
        tasks[id] = Task(executorPreference: loop.taskExecutor) { [self] in
            let status = await handler.run(context, connection: self, streamID: id)
            if ifOnLoop({ $0.handlerFinished(id, status) }) == nil {
                await handlerFinished(id, status)
            }
        }
    }

    /// A call's handler with the interceptors that run before it.
    private struct Handler: Sendable {
        let route: RPCRouter.Route
        let interceptors: [any RPCInterceptor]

        /// Runs the interceptors and the handler; returns the status the call ends with,
        /// nil for OK. The handler's frames keep only the small `ServerCall`: a call's task
        /// holds the memory of its deepest frames for as long as the call lasts.
        func run(_ context: ServerCallContext, connection: ServerConnection, streamID: UInt32) async -> RPCError? {
            let call: ServerCall
            switch await intercepted(context) {
            case .success(let context): call = ServerCall(connection: connection, streamID: streamID, context: context)
            case .failure(let error): return error
            }
            do {
                try await route.handle(call)
                return nil
            } catch {
                return Self.status(for: error, call.context)
            }
        }

        /// The context after every interceptor, or the status one of them refused with.
        private func intercepted(_ context: ServerCallContext) async -> Result<ServerCallContext, RPCError> {
            var context = context
            do {
                for interceptor in interceptors { try await interceptor.intercept(&context) }
                return .success(context)
            } catch {
                return .failure(Self.status(for: error, context))
            }
        }

        private static func status(for error: any Error, _ context: ServerCallContext) -> RPCError {
            switch error {
            case let error as RPCError:
                return error
            case is CancellationError:
                return RPCError(.cancelled, "rpc: call cancelled")
            default:
                context.logger.error("handler failed", ["error": "\(error)"])
                return RPCError(.internal, "rpc: internal error (request \(context.requestID))")
            }
        }
    }

    /// A Message or HalfClose for a stream that is not open.
    private func rejectUnknownStream(_ id: UInt32) {
        // Frames for streams that already ended are expected (they crossed our Close).
        guard id > highestStreamID else { return }
        transport.send(Frames.close(id, RPCError(.failedPrecondition, "rpc: stream \(id) was never opened")))
    }

    private func protocolError(_ code: StatusCode, _ message: String) {
        logger.debug("protocol error", ["error": message])
        transport.close(
            after: Frames.goAway(lastStream: highestStreamID, code: code, message: message),
            error: TransportError(code, message))
    }

    // MARK: - Calls

    /// The next request bytes of stream `id` if they are here, without waiting; `end`
    /// once the client half-closed and every message was consumed.
    func receiveNow(_ id: UInt32) throws -> InboundNow {
        guard let stream = streams[id] else { throw RPCError(.cancelled, "rpc: call ended") }
        return try stream.takeNow { transport.send(Frames.credit(id, bytes: $0)) }
    }

    /// The next request bytes of stream `id`, nil after HalfClose.
    func receive(_ id: UInt32) async throws -> [UInt8]? {
        switch try receiveNow(id) {
        case .message(let bytes):
            return bytes
        case .end:
            return nil
        case .wait:
            guard let stream = streams[id] else { throw RPCError(.cancelled, "rpc: call ended") }
            // A handler whose task is cancelled (its call ended another way, or it gave
            // up waiting) is woken rather than left parked forever.
            try Task.checkCancellation()
            return try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { continuation in
                    if let credit = stream.waitForInbound(continuation) {
                        transport.send(Frames.credit(id, bytes: credit))
                    }
                }
            } onCancel: {
                Task { await self.abandonReceive(id) }
            }
        }
    }

    /// The handler of stream `id` stops reading: a read waiting now, and every later
    /// one, fails with CANCELLED. Its call ends when the handler returns.
    func abandonReceive(_ id: UInt32) {
        streams[id]?.abandonReceive(RPCError(.cancelled, "rpc: the handler stopped reading"))
    }

    /// Sends one response message on stream `id` if the window and the transport allow
    /// it now; false when the caller must wait in ``send(_:_:)``.
    func sendNow(_ id: UInt32, _ bytes: [UInt8], coalescing: Bool = false) throws -> Bool {
        guard let stream = streams[id] else { throw RPCError(.cancelled, "rpc: call ended") }
        return try trySend(stream, bytes, coalescing: coalescing)
    }

    /// Sends one response message on stream `id`, waiting for window and for the
    /// connection to drain when it is backed up.
    func send(_ id: UInt32, _ bytes: [UInt8], coalescing: Bool = false) async throws {
        guard let stream = streams[id] else { throw RPCError(.cancelled, "rpc: call ended") }
        while try !trySend(stream, bytes, coalescing: coalescing) {
            try await withCheckedThrowingContinuation { continuation in
                stream.waitToSend(continuation, ready: stream.canSend && !transport.isBackedUp)
            }
        }
    }

    private func trySend(_ stream: StreamState, _ bytes: [UInt8], coalescing: Bool) throws -> Bool {
        if let error = stream.terminated { throw error }
        guard stream.canSend && !transport.isBackedUp else { return false }
        stream.charge(bytes.count)
        transport.send(Frames.message(stream.id, bytes), coalescing: coalescing)
        return true
    }

    /// The handler of stream `id` returned (`nil`) or threw `status`.
    func handlerFinished(_ id: UInt32, _ status: RPCError?) {
        tasks[id] = nil
        guard let stream = streams.removeValue(forKey: id) else { return }
        if let timer = deadlineTimers.removeValue(forKey: id) { loop.cancelTimer(timer) }
        stream.terminate(RPCError(.cancelled, "rpc: call ended"))
        if let status {
            transport.send(Frames.close(id, status))
        } else {
            transport.send(Frames.closeOK(id))
        }
        streamsChanged()
    }

    /// Ends stream `id` now: the handler is cancelled and, with a `status`, the client
    /// is told why. Without one (the client cancelled) nothing more is sent.
    private func end(_ id: UInt32, _ status: RPCError?) {
        guard let stream = streams.removeValue(forKey: id) else { return }
        if let timer = deadlineTimers.removeValue(forKey: id) { loop.cancelTimer(timer) }
        stream.terminate(status ?? RPCError(.cancelled, "rpc: call cancelled by the client"))
        tasks.removeValue(forKey: id)?.cancel()
        if let status { transport.send(Frames.close(id, status)) }
        streamsChanged()
    }

    private func deadlinePassed(_ id: UInt32) {
        deadlineTimers[id] = nil
        end(id, RPCError(.deadlineExceeded, "rpc: deadline exceeded"))
    }

    private func streamsChanged() {
        guard streams.isEmpty else { return }
        idleSince = .now
        if draining {
            lingerThenClose()
        } else if transport.isOpen {
            // The idle timeout starts now; check then, unless a check comes sooner anyway.
            let delay = nextHousekeepingDelay()
            if let pending = housekeepingDeadline, pending <= .now + delay { return }
            scheduleHousekeeping(after: delay)
        }
    }

    // MARK: - Shutdown

    /// Stops accepting streams: sends GoAway, and closes once the open ones finish.
    func beginDrain() {
        guard !draining, !closed else { return }
        draining = true
        transport.send(Frames.goAway(lastStream: highestStreamID, code: .ok, message: "server shutting down"))
        if streams.isEmpty { lingerThenClose() }
    }

    /// After a GoAway: waits for the client to close its side (it does once its calls
    /// are done), or five seconds at most, before closing. Closing at once could reset the
    /// connection under frames the client already sent, and a reset can destroy the
    /// GoAway before the client reads it; meanwhile new streams are refused as not
    /// processed, which clients retry elsewhere.
    private func lingerThenClose() {
        guard !closed, transport.isOpen else { return }
        loop.scheduleTimer(at: .now + .seconds(5)) { [weak self] in
            self?.assumeIsolated { $0.transport.close(after: nil, error: nil) }
        }
    }

    /// Ends every open call with `UNAVAILABLE` and closes the connection.
    func forceClose() {
        let ids = Array(streams.keys)
        for id in ids { end(id, RPCError(.unavailable, "rpc: server is shutting down")) }
        transport.close(after: nil, error: nil)
    }

    private func didClose(_ error: TransportError?) {
        guard !closed else { return }
        closed = true
        if let housekeepingTimer { loop.cancelTimer(housekeepingTimer) }
        let failure = RPCError(error?.code ?? .unavailable, error?.message ?? "rpc: connection closed")
        for (id, stream) in streams {
            stream.terminate(failure)
            tasks[id]?.cancel()
            if let timer = deadlineTimers[id] { loop.cancelTimer(timer) }
        }
        streams = [:]
        tasks = [:]
        deadlineTimers = [:]
        if let error { logger.debug("connection closed", ["error": error.message]) }
        shared.connectionClosed(self)
    }

    // MARK: - Housekeeping: handshake timeout, keepalive, idle timeout

    private func scheduleHousekeeping(after delay: Duration) {
        if let housekeepingTimer { loop.cancelTimer(housekeepingTimer) }
        let deadline = ContinuousClock.now + delay
        housekeepingDeadline = deadline
        housekeepingTimer = loop.scheduleTimer(at: deadline) { [weak self] in
            self?.assumeIsolated { $0.housekeeping() }
        }
    }

    private func housekeeping() {
        housekeepingTimer = nil
        housekeepingDeadline = nil
        guard !closed else { return }
        let limits = shared.limits
        let now = ContinuousClock.now
        guard transport.isOpen else {
            guard case .handshaking = transport.state else { return }
            // A connection waiting for a handshake slot waits for the server, not the
            // peer; its timeout starts when it gets one.
            if transport.isWaitingForHandshakeSlot {
                scheduleHousekeeping(after: limits.handshakeTimeout)
                return
            }
            let elapsed = now - transport.handshakeStartedAt
            guard elapsed >= limits.handshakeTimeout else {
                scheduleHousekeeping(after: limits.handshakeTimeout - elapsed)
                return
            }
            transport.abort(
                TransportError(
                    .unavailable, "tls: handshake with \(transport.peer) timed out after \(limits.handshakeTimeout)"))
            return
        }
        if let pingSentAt, transport.lastReceived < pingSentAt, now - pingSentAt >= limits.keepaliveTimeout {
            protocolError(.unavailable, "rpc: keepalive timeout: no answer within \(limits.keepaliveTimeout)")
            return
        }
        if streams.isEmpty && !draining && now - idleSince >= limits.idleTimeout {
            logger.debug("closing idle connection")
            draining = true
            transport.send(Frames.goAway(lastStream: highestStreamID, code: .ok, message: "idle"))
            lingerThenClose()
            return
        }
        if pingSentAt == nil && now - transport.lastReceived >= limits.keepaliveInterval {
            pingSentAt = now
            pingCount &+= 1
            transport.send(Frames.ping(pingCount))
        }
        scheduleHousekeeping(after: nextHousekeepingDelay())
    }

    private func nextHousekeepingDelay() -> Duration {
        let limits = shared.limits
        let now = ContinuousClock.now
        var next = limits.keepaliveInterval - (now - transport.lastReceived)
        if let pingSentAt { next = min(next, limits.keepaliveTimeout - (now - pingSentAt)) }
        if streams.isEmpty { next = min(next, limits.idleTimeout - (now - idleSince)) }
        return max(next, .milliseconds(10))
    }
}
