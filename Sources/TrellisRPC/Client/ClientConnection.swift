import TrellisLogging
import TrellisTLS
import TrellisWire

#if canImport(Glibc)
import Glibc
#endif

/// Client-side limits and timings.
public struct ClientLimits: Sendable, Hashable {
    /// The largest frame accepted from the server.
    public var maxFrameSize: Int = 4 << 20
    /// The flow-control window each stream starts with.
    public var initialWindow: Int = 65_536
    /// With calls open and nothing received for this long, the client sends a Ping.
    public var keepaliveInterval: Duration = .seconds(30)
    /// A server that sends nothing for this long after a Ping is given up on.
    public var keepaliveTimeout: Duration = .seconds(10)

    public init() {}
}

/// One connection to a server: its transport and the calls open on it.
///
/// Created by ``RPCClient``; runs on the event loop that owns the socket.
actor ClientConnection: TransportDelegate, LoopBoundActor {
    nonisolated let loop: EventLoop
    nonisolated var unownedExecutor: UnownedSerialExecutor { loop.asUnownedSerialExecutor() }

    private let transport: FramedTransport
    private let limits: ClientLimits
    private let logger: Logger
    private var streams: [UInt32: StreamState] = [:]
    private var deadlineTimers: [UInt32: TimerID] = [:]
    private var nextStreamID: UInt32 = 1
    private var readyWaiter: CheckedContinuation<Void, any Error>?
    private var closedError: RPCError?
    /// Set once the server sent GoAway: no new streams here.
    private(set) var isGoingAway = false
    private var pingSentAt: ContinuousClock.Instant?
    private var pingCount: UInt64 = 0
    private var keepaliveTimer: TimerID?

    /// Whether new calls can be opened on this connection.
    var isUsable: Bool { closedError == nil && !isGoingAway && nextStreamID < UInt32.max }

    private init(loop: EventLoop, transport: FramedTransport, limits: ClientLimits, logger: Logger) {
        self.loop = loop
        self.transport = transport
        self.limits = limits
        self.logger = logger
    }

    /// Connects, completes the TLS handshake, and returns the ready connection.
    ///
    /// - Throws: ``RPCError`` `UNAVAILABLE` naming the address and what failed.
    static func connect(
        to address: SocketAddress,
        context: TLSContext,
        loop: EventLoop,
        limits: ClientLimits,
        timeout: Duration,
        logger: Logger
    ) async throws -> ClientConnection {
        let (fd, _): (Int32, Bool)
        do {
            (fd, _) = try Socket.connect(to: address)
        } catch {
            throw RPCError(.unavailable, error.description)
        }
        let connection: ClientConnection = try await withCheckedThrowingContinuation { continuation in
            loop.execute {
                let tls: TLSConnection
                do {
                    tls = try TLSConnection(
                        context: context, fileDescriptor: fd, role: .client,
                        peerDescription: address.description)
                } catch {
                    Glibc.close(fd)
                    continuation.resume(throwing: RPCError(.unavailable, "\(error)"))
                    return
                }
                let transport = FramedTransport(
                    loop: loop, fd: fd, peer: address.description, tls: tls,
                    limits: TransportLimits(maxFrameSize: limits.maxFrameSize))
                let connection = ClientConnection(
                    loop: loop, transport: transport, limits: limits,
                    logger: logger.with("peer.address", address.description))
                connection.assumeIsolated { $0.begin(timeout: timeout) }
                continuation.resume(returning: connection)
            }
        }
        try await connection.waitUntilReady()
        return connection
    }

    private func begin(timeout: Duration) {
        transport.delegate = self
        do {
            try transport.start()
        } catch {
            transport.abort(TransportError(.unavailable, "\(error)"))
            return
        }
        // The handshake timeout doubles as the connect timeout: a non-blocking
        // connect that never completes never becomes writable.
        keepaliveTimer = loop.scheduleTimer(at: .now + timeout) { [weak self] in
            self?.assumeIsolated { connection in
                connection.keepaliveTimer = nil
                if case .handshaking = connection.transport.state {
                    connection.transport.abort(
                        TransportError(
                            .unavailable, "rpc: connecting to \(connection.transport.peer) timed out after \(timeout)"))
                }
            }
        }
    }

    private func waitUntilReady() async throws {
        if let closedError { throw closedError }
        if transport.isOpen { return }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            // The handshake may have finished or failed while this task was on its way.
            if let closedError {
                continuation.resume(throwing: closedError)
            } else if transport.isOpen {
                continuation.resume()
            } else {
                readyWaiter = continuation
            }
        }
    }

    // MARK: - Transport events

    nonisolated func transportDidBecomeReady() {
        assumeIsolated { connection in
            if let timer = connection.keepaliveTimer { connection.loop.cancelTimer(timer) }
            connection.keepaliveTimer = nil
            connection.scheduleKeepalive()
            connection.readyWaiter?.resume()
            connection.readyWaiter = nil
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

    private func handle(_ frame: WireV1.Frame) {
        let id = frame.streamId
        if let violation = FrameRules.violation(of: frame, receivedBy: .client) {
            transport.close(
                after: Frames.goAway(lastStream: 0, code: .invalidArgument, message: violation),
                error: TransportError(.internal, violation))
            return
        }
        switch frame.kind {
        case .message(let message):
            guard let stream = streams[id] else { return }
            switch stream.deliver(message.data) {
            case .accepted(let credit):
                if let credit { transport.send(Frames.credit(id, bytes: credit)) }
            case .flowControlViolation:
                fail(
                    id, RPCError(.resourceExhausted, "rpc: server sent beyond the flow-control window"),
                    sendCancel: true)
            case .ignored, .afterFinish:
                break
            }
        case .close(let close):
            guard let stream = streams[id] else { return }
            if let timer = deadlineTimers.removeValue(forKey: id) { loop.cancelTimer(timer) }
            let code = StatusCode(rawValue: close.code)
            stream.finishInbound(error: code == .ok ? nil : RPCError(code, close.message, details: close.details))
            // Writers still waiting for window learn that the call is over.
            stream.resumeWriters()
        case .credit(let credit):
            streams[id]?.addCredit(credit.bytes)
        case .ping(let ping):
            transport.send(Frames.pong(ping.payload))
        case .pong:
            pingSentAt = nil
        case .goAway(let goAway):
            isGoingAway = true
            let code = StatusCode(rawValue: goAway.code)
            for (streamID, _) in streams where streamID > goAway.lastStreamId {
                fail(
                    streamID, RPCError.notProcessed("rpc: server did not process the call: \(goAway.message)"),
                    sendCancel: false)
            }
            if code != .ok {
                logger.debug("server sent GoAway", ["code": code.name, "message": goAway.message])
            }
            if streams.isEmpty { transport.close(after: nil, error: nil) }
        case .open, .halfClose, .cancel, nil:
            // Servers do not open streams; nothing to do for a confused peer.
            break
        }
    }

    // MARK: - Calls

    /// Opens a stream for `method`. Local deadline enforcement starts now.
    func open(method: String, metadata: [String: String], timeout: Duration?) throws -> UInt32 {
        // Nothing was sent for the call yet, so these refusals are safe to retry.
        if let closedError { throw RPCError.notProcessed(closedError.message) }
        guard isUsable else { throw RPCError.notProcessed("rpc: connection is going away") }
        let id = nextStreamID
        nextStreamID += 1
        streams[id] = StreamState(id: id, initialWindow: limits.initialWindow)
        var timeoutMs: UInt64 = 0
        if let timeout {
            let (seconds, attoseconds) = timeout.components
            timeoutMs = UInt64(max(1, seconds * 1000 + attoseconds / 1_000_000_000_000_000))
            deadlineTimers[id] = loop.scheduleTimer(at: .now + timeout) { [weak self] in
                self?.assumeIsolated { connection in
                    connection.deadlineTimers[id] = nil
                    connection.fail(
                        id, RPCError(.deadlineExceeded, "rpc: deadline of \(timeout) exceeded"),
                        sendCancel: true)
                }
            }
        }
        transport.send(Frames.open(id, method: method, metadata: metadata, timeoutMs: timeoutMs))
        return id
    }

    /// Opens a call and, when it has one request (`request`), sends it and half-closes in
    /// the same turn of the loop, so that the server gets the three frames in one write
    /// and starts the handler at once. Returns the stream and whether the request went;
    /// when the transport is backed up it did not, and the caller sends it in
    /// ``send(_:_:)``.
    func open(
        method: String, metadata: [String: String], timeout: Duration?, sending request: [UInt8]?
    ) throws -> (id: UInt32, sent: Bool) {
        let id = try open(method: method, metadata: metadata, timeout: timeout)
        guard let request, try sendNow(id, request) else { return (id, false) }
        halfClose(id)
        return (id, true)
    }

    /// Sends one request message on stream `id` if the window and the transport allow it
    /// now (or the server already closed the call); false when the caller must wait in
    /// ``send(_:_:)``.
    func sendNow(_ id: UInt32, _ bytes: [UInt8]) throws -> Bool {
        guard let stream = streams[id] else { throw closedError ?? RPCError(.cancelled, "rpc: call ended") }
        return try trySend(stream, bytes)
    }

    func send(_ id: UInt32, _ bytes: [UInt8]) async throws {
        guard let stream = streams[id] else { throw closedError ?? RPCError(.cancelled, "rpc: call ended") }
        while try !trySend(stream, bytes) {
            try await withCheckedThrowingContinuation { continuation in
                stream.waitToSend(
                    continuation, ready: stream.inboundFinished || (stream.canSend && !transport.isBackedUp))
            }
        }
    }

    private func trySend(_ stream: StreamState, _ bytes: [UInt8]) throws -> Bool {
        if let error = stream.terminated { throw error }
        // The server already closed the call: what it said is reported by receive.
        if stream.inboundFinished { return true }
        guard stream.canSend && !transport.isBackedUp else { return false }
        stream.charge(bytes.count)
        transport.send(Frames.message(stream.id, bytes))
        return true
    }

    func halfClose(_ id: UInt32) {
        guard let stream = streams[id], stream.terminated == nil, !stream.inboundFinished else { return }
        transport.send(Frames.halfClose(id))
    }

    /// The next response bytes of stream `id` if they are here, without waiting; `end`
    /// once the server closed the call with OK and every message was consumed.
    func receiveNow(_ id: UInt32) throws -> InboundNow {
        guard let stream = streams[id] else { throw closedError ?? RPCError(.cancelled, "rpc: call ended") }
        return try stream.takeNow { transport.send(Frames.credit(id, bytes: $0)) }
    }

    /// Every message of stream `id` that is here (at least one, waiting for it if none
    /// is), and whether the stream ended after them: one hop to the loop for a stream's
    /// backlog, where ``receive(_:)`` takes one per message. `used` is how many bytes of
    /// the messages this returned before the reader has consumed since, which earns the
    /// peer its credit; `counted` says whether the messages returned now are counted
    /// consumed already (the one a waiting reader was handed) or are to be reported.
    func receiveQueued(
        _ id: UInt32, limit: Int, used: Int
    ) async throws -> (messages: [[UInt8]], ended: Bool, counted: Bool) {
        guard let stream = streams[id] else { throw closedError ?? RPCError(.cancelled, "rpc: call ended") }
        if used > 0, let credit = stream.consumed(used) { transport.send(Frames.credit(id, bytes: credit)) }
        let queued = try stream.takeQueuedUnconsumed(limit: limit)
        if !queued.messages.isEmpty || queued.ended { return (queued.messages, queued.ended, false) }
        guard let bytes = try await receive(id) else { return ([], true, true) }
        return ([bytes], false, true)
    }

    func receive(_ id: UInt32) async throws -> [UInt8]? {
        switch try receiveNow(id) {
        case .message(let bytes):
            return bytes
        case .end:
            return nil
        case .wait:
            guard let stream = streams[id] else { throw closedError ?? RPCError(.cancelled, "rpc: call ended") }
            return try await withCheckedThrowingContinuation { continuation in
                if let credit = stream.waitForInbound(continuation) {
                    transport.send(Frames.credit(id, bytes: credit))
                }
            }
        }
    }

    /// The caller is done with stream `id`: if the server has not closed it, Cancel it.
    func release(_ id: UInt32) {
        guard let stream = streams.removeValue(forKey: id) else { return }
        if let timer = deadlineTimers.removeValue(forKey: id) { loop.cancelTimer(timer) }
        if stream.terminated == nil && !stream.inboundFinished {
            transport.send(Frames.cancel(id))
        }
        stream.terminate(RPCError(.cancelled, "rpc: call cancelled"))
        if streams.isEmpty && isGoingAway { transport.close(after: nil, error: nil) }
    }

    /// Cancels stream `id` on behalf of a cancelled caller task.
    func cancel(_ id: UInt32) {
        fail(id, RPCError(.cancelled, "rpc: call cancelled"), sendCancel: true)
    }

    private func fail(_ id: UInt32, _ error: RPCError, sendCancel: Bool) {
        guard let stream = streams[id], stream.terminated == nil else { return }
        if let timer = deadlineTimers.removeValue(forKey: id) { loop.cancelTimer(timer) }
        if sendCancel && !stream.inboundFinished { transport.send(Frames.cancel(id)) }
        stream.terminate(error)
    }

    /// Closes the connection; open calls end with `UNAVAILABLE`.
    func close() {
        transport.close(after: Frames.goAway(lastStream: 0, code: .ok, message: "client closing"), error: nil)
    }

    private func didClose(_ error: TransportError?) {
        let failure = RPCError(error?.code ?? .unavailable, error?.message ?? "rpc: connection closed")
        closedError = failure
        readyWaiter?.resume(throwing: failure)
        readyWaiter = nil
        // Calls the server already closed keep what they received; the rest fail.
        for stream in streams.values where !stream.inboundFinished { stream.terminate(failure) }
        for timer in deadlineTimers.values { loop.cancelTimer(timer) }
        deadlineTimers = [:]
        if let keepaliveTimer { loop.cancelTimer(keepaliveTimer) }
        keepaliveTimer = nil
    }

    // MARK: - Keepalive

    private func scheduleKeepalive() {
        let delay = pingSentAt == nil ? limits.keepaliveInterval : limits.keepaliveTimeout
        keepaliveTimer = loop.scheduleTimer(at: .now + min(delay, .seconds(1))) { [weak self] in
            self?.assumeIsolated { $0.keepaliveTick() }
        }
    }

    private func keepaliveTick() {
        keepaliveTimer = nil
        guard closedError == nil else { return }
        let now = ContinuousClock.now
        if let pingSentAt, transport.lastReceived < pingSentAt, now - pingSentAt >= limits.keepaliveTimeout {
            transport.abort(
                TransportError(
                    .unavailable,
                    "rpc: server \(transport.peer) did not answer a keepalive ping within \(limits.keepaliveTimeout)"))
            return
        }
        if pingSentAt != nil && transport.lastReceived >= pingSentAt! { pingSentAt = nil }
        if pingSentAt == nil && !streams.isEmpty && now - transport.lastReceived >= limits.keepaliveInterval {
            pingSentAt = now
            pingCount &+= 1
            transport.send(Frames.ping(pingCount))
        }
        scheduleKeepalive()
    }
}
