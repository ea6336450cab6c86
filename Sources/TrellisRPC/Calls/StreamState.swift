/// The inbound queue and flow-control windows of one stream, owned by the connection
/// actor the stream belongs to (server or client side alike).
///
/// Inbound: messages wait in `inbound` until consumed; the peer may send while the
/// receive window it was granted is positive, and consumption returns credit in
/// batches of half the initial window. Outbound: a sender may send while `sendWindow`
/// is positive; Credit frames from the peer add to it.
///
/// ```
/// open ──(peer HalfClose / Close)──▶ inbound finished ──(queue drained)──▶ end
///   └──────────(cancel, deadline, violation, connection lost)──▶ terminated
/// ```
final class StreamState {
    let id: UInt32
    private let initialWindow: Int

    private var inbound: [[UInt8]] = []
    private var inboundHead = 0
    /// Set when the peer will send no more; `inboundError` is raised after the queue.
    private(set) var inboundFinished = false
    private var inboundError: (any Error)?
    private var receiveWaiter: CheckedContinuation<[UInt8]?, any Error>?

    /// How many more message bytes the peer may send before it needs credit.
    private var receiveWindow: Int
    private var uncredited = 0

    /// How many more message bytes this side may send.
    private(set) var sendWindow: Int
    private var sendWaiters: [CheckedContinuation<Void, any Error>] = []

    /// Why the stream ended abruptly; every operation after it throws this.
    private(set) var terminated: (any Error)?
    /// Set when the reader gave up: every later read fails with it.
    private var readerAbandoned: (any Error)?

    init(id: UInt32, initialWindow: Int) {
        self.id = id
        self.initialWindow = initialWindow
        self.receiveWindow = initialWindow
        self.sendWindow = initialWindow
    }

    // MARK: Inbound

    enum Delivery {
        /// Queued or handed to a waiting reader; `credit` is owed to the peer, if any.
        case accepted(credit: UInt32?)
        /// The peer sent with no window left.
        case flowControlViolation
        /// The peer already said it would send no more.
        case afterFinish
        /// The stream ended abruptly; drop it.
        case ignored
    }

    /// A message arrived from the peer.
    func deliver(_ bytes: [UInt8]) -> Delivery {
        guard terminated == nil else { return .ignored }
        guard !inboundFinished else { return .afterFinish }
        guard receiveWindow > 0 else { return .flowControlViolation }
        receiveWindow -= bytes.count
        if let waiter = receiveWaiter {
            receiveWaiter = nil
            waiter.resume(returning: bytes)
            return .accepted(credit: consumed(bytes.count))
        }
        inbound.append(bytes)
        return .accepted(credit: nil)
    }

    /// The peer will send no more; `error`, if any, is what readers get after the queue.
    func finishInbound(error: (any Error)? = nil) {
        guard !inboundFinished, terminated == nil else { return }
        inboundFinished = true
        inboundError = error
        if let waiter = receiveWaiter, inboundHead == inbound.count {
            receiveWaiter = nil
            if let error { waiter.resume(throwing: error) } else { waiter.resume(returning: nil) }
        }
    }

    enum NextInbound {
        case message([UInt8], credit: UInt32?)
        case end
        case failed(any Error)
        case wait
    }

    /// The next message for a reader, or what the reader must do instead.
    func nextInbound() -> NextInbound {
        if let terminated { return .failed(terminated) }
        if let readerAbandoned { return .failed(readerAbandoned) }
        if let bytes = popInbound() {
            return .message(bytes, credit: consumed(bytes.count))
        }
        if inboundFinished {
            if let inboundError { return .failed(inboundError) }
            return .end
        }
        return .wait
    }

    /// The first queued message, if any, taken off the queue.
    private func popInbound() -> [UInt8]? {
        guard inboundHead < inbound.count else { return nil }
        let bytes = inbound[inboundHead]
        inbound[inboundHead] = []
        inboundHead += 1
        if inboundHead == inbound.count {
            inbound.removeAll(keepingCapacity: inbound.count < 64)
            inboundHead = 0
        }
        return bytes
    }

    /// Takes every queued message, up to `limit`, without counting them consumed: the
    /// reader buffers them and reports them with ``consumed(_:)`` once it has used them, so
    /// that a reader that stops still stops the peer at the window. Also says whether the
    /// stream ended after them; throws when it failed and nothing is left to take.
    func takeQueuedUnconsumed(limit: Int) throws -> (messages: [[UInt8]], ended: Bool) {
        if let terminated { throw terminated }
        if let readerAbandoned { throw readerAbandoned }
        var messages: [[UInt8]] = []
        while messages.count < limit, let bytes = popInbound() { messages.append(bytes) }
        guard messages.isEmpty, inboundFinished else { return (messages, false) }
        if let inboundError { throw inboundError }
        return ([], true)
    }

    /// Parks a reader until a message, the end, or termination arrives; resumes it at
    /// once if one already has. Returns the credit owed to the peer for a message
    /// handed over at once.
    ///
    /// A reader that found nothing and then awaited a continuation may have been
    /// suspended in between (an executor switch), during which frames arrived: parking
    /// it without looking again would leave it waiting beside a full queue, with the
    /// peer waiting for credit.
    func waitForInbound(_ continuation: CheckedContinuation<[UInt8]?, any Error>) -> UInt32? {
        precondition(receiveWaiter == nil, "two readers on stream \(id)")
        switch nextInbound() {
        case .message(let bytes, let credit):
            continuation.resume(returning: bytes)
            return credit
        case .end:
            continuation.resume(returning: nil)
        case .failed(let error):
            continuation.resume(throwing: error)
        case .wait:
            receiveWaiter = continuation
        }
        return nil
    }

    /// Records consumption (of messages a reader was handed, or took with
    /// ``takeQueuedUnconsumed(limit:)`` and has used since); returns credit to grant once
    /// half the window is consumed.
    func consumed(_ count: Int) -> UInt32? {
        uncredited += count
        guard uncredited >= initialWindow / 2 else { return nil }
        let grant = uncredited
        uncredited = 0
        receiveWindow += grant
        return UInt32(clamping: grant)
    }

    // MARK: Outbound

    /// Whether a message may be sent now.
    var canSend: Bool { sendWindow > 0 }

    /// Charges a sent message against the window.
    func charge(_ count: Int) {
        sendWindow -= count
    }

    /// Credit arrived from the peer: wake writers waiting for window.
    func addCredit(_ bytes: UInt32) {
        sendWindow += Int(bytes)
        if sendWindow > 0 { resumeWriters() }
    }

    /// Parks a writer until window or termination arrives, or resumes it at once when
    /// it need not wait (`ready`, or the stream already ended): as with readers, credit
    /// may have arrived while the writer was on its way here.
    func waitToSend(_ continuation: CheckedContinuation<Void, any Error>, ready: Bool) {
        if ready || terminated != nil {
            continuation.resume()
        } else {
            sendWaiters.append(continuation)
        }
    }

    /// Wakes writers so they check the window (and the connection) again.
    func resumeWriters() {
        let waiters = sendWaiters
        sendWaiters = []
        for waiter in waiters { waiter.resume() }
    }

    /// The reader gives up: a parked reader wakes with `error`, and later reads fail
    /// with it. Sending goes on.
    func abandonReceive(_ error: any Error) {
        if readerAbandoned == nil { readerAbandoned = error }
        guard let waiter = receiveWaiter else { return }
        receiveWaiter = nil
        waiter.resume(throwing: error)
    }

    // MARK: Termination

    /// Ends the stream abruptly: queued messages are dropped and every waiter, now or
    /// later, gets `error`.
    func terminate(_ error: any Error) {
        guard terminated == nil else { return }
        terminated = error
        inbound = []
        inboundHead = 0
        if let waiter = receiveWaiter {
            receiveWaiter = nil
            waiter.resume(throwing: error)
        }
        let waiters = sendWaiters
        sendWaiters = []
        for waiter in waiters { waiter.resume(throwing: error) }
    }
}

/// What a stream's reader finds without waiting.
enum InboundNow: Sendable {
    case message([UInt8])
    /// The peer will send no more and every message was consumed.
    case end
    /// Nothing yet: the reader must park with ``StreamState/waitForInbound(_:)``.
    case wait
}

extension StreamState {
    /// The next message if one is here, without waiting; `grant` sends the peer the credit
    /// that taking it earned, if any.
    func takeNow(grant: (UInt32) -> Void) throws -> InboundNow {
        switch nextInbound() {
        case .message(let bytes, let credit):
            if let credit { grant(credit) }
            return .message(bytes)
        case .end:
            return .end
        case .failed(let error):
            throw error
        case .wait:
            return .wait
        }
    }
}
