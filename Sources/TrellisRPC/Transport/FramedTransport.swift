import CEpoll
import TrellisTLS
import TrellisWire

#if canImport(Glibc)
import Glibc
#endif

/// What a transport reports to the connection that owns it, on the loop thread.
protocol TransportDelegate: AnyObject {
    /// The TLS handshake finished; frames can flow.
    func transportDidBecomeReady()
    /// One whole frame arrived.
    func transportDidReceive(_ frame: WireV1.Frame)
    /// Buffered outbound bytes fell below the low watermark; paused writers may go on.
    func transportDidDrain()
    /// The transport is closed; `error` says why, nil for an orderly close.
    func transportDidClose(_ error: TransportError?)
}

/// Why a transport closed.
public struct TransportError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The status a call still open on the connection ends with.
    public var code: StatusCode
    public var message: String

    public init(_ code: StatusCode, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}

/// Limits a transport enforces.
struct TransportLimits: Sendable {
    var maxFrameSize: Int
    /// Above this many buffered outbound bytes the transport stops reading and writers
    /// wait; below `outboundLowWatermark` both resume.
    var outboundHighWatermark: Int = 1 << 20
    var outboundLowWatermark: Int = 256 << 10
    /// How many calls one batch of received frames may open before what they answered is
    /// flushed and the rest are delivered. A peer that sends many calls at once then gets
    /// the first answers while later ones are still being served, so that both ends work
    /// at the same time instead of taking turns.
    var callsPerBatch: Int = 8
    /// How long a frame sent with `coalescing` may wait for later frames to share its TLS
    /// record and write (a progress stream's events, arriving a few at a time).
    var coalescingDelay: Duration = .milliseconds(2)

    init(maxFrameSize: Int, coalescingDelay: Duration = .milliseconds(2)) {
        self.maxFrameSize = maxFrameSize
        self.coalescingDelay = coalescingDelay
    }
}

/// A TLS connection carrying length-prefixed frames, driven by one event loop.
///
/// Outbound frames are coalesced: ``send(_:)`` appends to a buffer that is written once
/// at the end of the loop's turn, so many small frames share TLS records and syscalls.
/// Everything here runs on the loop thread.
///
/// ```
/// handshaking ──▶ open ──▶ closing (flush, then close) ──▶ closed
///      └───────────┴────────────────────────────────────────┘ (failure)
/// ```
final class FramedTransport: EventHandler {
    enum State {
        case handshaking
        case open
        /// Flushing what is buffered, reading nothing more, then closing.
        case closing(TransportError?)
        case closed
    }

    unowned let loop: EventLoop
    let fd: Int32
    let peer: String
    private(set) var state: State = .handshaking
    private var tls: TLSConnection
    private var decoder: FrameDecoder
    private let encoder: FrameEncoder
    private var outbound: [UInt8] = []
    private var outboundOffset = 0
    private let limits: TransportLimits
    private var registeredEvents: UInt32 = 0
    private var flushScheduled = false
    private var readPaused = false
    private var closeTimer: TimerID?
    /// The flush of frames sent with `coalescing`, when no end-of-turn flush is due.
    private var coalescingTimer: TimerID?
    /// Calls opened by the frames delivered in the current batch.
    private var callsInBatch = 0
    /// An Open that would have gone over `callsPerBatch`, delivered first in the next batch.
    private var heldFrame: WireV1.Frame?
    /// Whether the next batch waits for this one's flush (reading waits with it).
    private var deliveryDeferred = false
    weak var delegate: (any TransportDelegate)?
    /// The highest stream the owner has processed, announced in a GoAway for a framing
    /// error so that the peer knows which calls may be retried.
    var lastProcessedStreamID: UInt32 = 0

    /// When the last bytes arrived from the peer (or the transport was created).
    private(set) var lastReceived: ContinuousClock.Instant = .now
    let createdAt: ContinuousClock.Instant = .now
    /// Where a server's handshakes take turns; nil on clients.
    var admission: HandshakeAdmission?
    private enum Slot {
        /// Not yet asked for: the peer has not spoken.
        case none
        /// Waiting for a slot, reading nothing meanwhile.
        case waiting
        /// Holding one until the handshake ends.
        case held
        /// Given back.
        case released
    }
    private var slot = Slot.none
    /// When the handshake could start: creation, or when a waiting connection got its
    /// slot. The handshake timeout counts from here.
    private(set) var handshakeStartedAt: ContinuousClock.Instant = .now
    /// Whether the connection waits for a handshake slot (and so for no timeout).
    var isWaitingForHandshakeSlot: Bool {
        if case .waiting = slot { return true }
        return false
    }

    init(loop: EventLoop, fd: Int32, peer: String, tls: consuming TLSConnection, limits: TransportLimits) {
        self.loop = loop
        self.fd = fd
        self.peer = peer
        self.tls = tls
        self.limits = limits
        self.decoder = FrameDecoder(maxFrameSize: limits.maxFrameSize)
        // Outbound frames are bounded by what the peer accepts, at most the protocol's 4 GiB.
        self.encoder = FrameEncoder(maxFrameSize: Int(UInt32.max))
    }

    /// Registers with the loop and starts the handshake.
    func start() throws(RPCSystemError) {
        guard admission == nil else {
            // A server's handshake starts when the peer has spoken and a slot is free.
            registeredEvents = EPOLLIN.rawValue
            try loop.register(fd, events: registeredEvents, handler: self)
            return
        }
        registeredEvents = EPOLLIN.rawValue | EPOLLOUT.rawValue
        try loop.register(fd, events: registeredEvents, handler: self)
        advanceHandshake()
    }

    var isOpen: Bool {
        if case .open = state { return true }
        return false
    }

    /// Whether buffered outbound bytes are above the high watermark: writers should wait
    /// for ``TransportDelegate/transportDidDrain()``.
    var isBackedUp: Bool { outbound.count - outboundOffset > limits.outboundHighWatermark }

    /// Bytes of a frame received only in part.
    var partialFrameBytes: Int { decoder.bufferedByteCount }

    /// Details of the negotiated session, once open.
    var peerCertificate: PeerCertificate? { tls.peerCertificate }
    var negotiatedProtocolVersion: String { tls.protocolVersion }
    var resumedSession: Bool { tls.resumedSession }

    /// Queues a frame; it is written at the end of the loop's turn, or, with
    /// `coalescing`, within `limits.coalescingDelay` (sooner if another frame is sent
    /// without it meanwhile, or the buffer fills).
    func send(_ frame: WireV1.Frame, coalescing: Bool = false) {
        guard isOpen else { return }
        do {
            try encoder.encode(frame, appendingTo: &outbound)
        } catch {
            // Frames are built by the runtime from validated strings; a NUL in one means
            // the runtime let unvalidated text through.
            preconditionFailure("rpc: cannot encode an outbound frame: \(error)")
        }
        if coalescing { scheduleCoalescedFlush() } else { scheduleFlush() }
        if outbound.count - outboundOffset > limits.outboundHighWatermark {
            flush()
            updateInterest()
        }
    }

    /// Sends `frame` (a GoAway) if possible, then closes once it is written, or after a
    /// second if the peer does not read.
    func close(after frame: WireV1.Frame?, error: TransportError?) {
        switch state {
        case .closing, .closed:
            return
        case .handshaking:
            finishClose(error)
        case .open:
            if let frame { send(frame) }
            state = .closing(error)
            readPaused = true
            flush()
            if case .closing = state {
                closeTimer = loop.scheduleTimer(at: .now + .seconds(1)) { [weak self] in
                    self?.finishClose(error)
                }
                updateInterest()
            }
        }
    }

    /// Closes at once, dropping anything unsent.
    func abort(_ error: TransportError?) {
        finishClose(error)
    }

    // MARK: - Events

    func handleEvents(_ events: UInt32) {
        if case .handshaking = state {
            if events & (EPOLLERR.rawValue | EPOLLHUP.rawValue) != 0 && events & EPOLLIN.rawValue == 0 {
                finishClose(TransportError(.unavailable, "tls: handshake with \(peer) failed: connection reset"))
                return
            }
            guard takeHandshakeSlot() else { return }
            advanceHandshake()
            return
        }
        if events & EPOLLOUT.rawValue != 0 {
            flush()
        }
        if events & (EPOLLIN.rawValue | EPOLLERR.rawValue | EPOLLHUP.rawValue) != 0 {
            readAvailable()
        }
        updateInterest()
    }

    /// Whether the handshake may go on now; when every slot is taken, stops listening
    /// until ``admitted()`` runs.
    private func takeHandshakeSlot() -> Bool {
        guard let admission else { return true }
        switch slot {
        case .held, .released:
            return true
        case .waiting:
            return false
        case .none:
            let loop = loop
            let waiter = WaitingTransport(self)
            if admission.enter(orWait: {
                loop.execute {
                    guard let transport = waiter.transport else {
                        admission.leave()
                        return
                    }
                    transport.admitted()
                }
            }) {
                slot = .held
                return true
            }
            slot = .waiting
            setInterest(0)
            return false
        }
    }

    /// A slot came free for this waiting connection.
    private func admitted() {
        guard case .waiting = slot else { return }
        slot = .held
        guard case .handshaking = state else {
            releaseHandshakeSlot()
            return
        }
        handshakeStartedAt = .now
        advanceHandshake()
    }

    private func releaseHandshakeSlot() {
        if case .held = slot { admission?.leave() }
        slot = .released
    }

    private func advanceHandshake() {
        switch tls.handshake() {
        case .complete:
            releaseHandshakeSlot()
            state = .open
            lastReceived = .now
            updateInterest()
            delegate?.transportDidBecomeReady()
            // Frames may have arrived together with the last handshake message.
            if isOpen { readAvailable() }
            if isOpen { updateInterest() }
        case .wantRead:
            setInterest(EPOLLIN.rawValue)
        case .wantWrite:
            setInterest(EPOLLIN.rawValue | EPOLLOUT.rawValue)
        case .failed(let error):
            finishClose(TransportError(.unavailable, error.description))
        }
    }

    /// Reads and delivers what has arrived. `newBatch` is false where the caller has just
    /// delivered frames of the same batch.
    private func readAvailable(newBatch: Bool = true) {
        guard !deliveryDeferred else { return }
        if newBatch { callsInBatch = 0 }
        let buffer = loop.confined.readBuffer
        while isOpen && !readPaused && !deliveryDeferred {
            switch tls.read(into: buffer) {
            case .bytes(let count):
                lastReceived = .now
                decoder.append(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
                deliverFrames()
            case .wantRead, .wantWrite:
                return
            case .closed:
                finishClose(nil)
                return
            case .failed(let error):
                finishClose(TransportError(.unavailable, error.description))
                return
            }
        }
    }

    private func deliverFrames() {
        while isOpen {
            var frame = heldFrame
            heldFrame = nil
            do {
                if frame == nil { frame = try decoder.nextFrame() }
            } catch {
                let code: StatusCode = error.code == .frameTooLarge ? .resourceExhausted : .invalidArgument
                let message = "\(error) (from \(peer))"
                close(
                    after: Frames.goAway(lastStream: lastProcessedStreamID, code: code, message: message),
                    error: TransportError(code, message))
                return
            }
            guard let frame else { return }
            if case .open = frame.kind {
                if callsInBatch >= limits.callsPerBatch {
                    heldFrame = frame
                    deferDelivery()
                    return
                }
                callsInBatch += 1
            }
            delegate?.transportDidReceive(frame)
        }
    }

    /// Delivers the rest of what was received once this batch's answers are flushed.
    private func deferDelivery() {
        guard !deliveryDeferred else { return }
        deliveryDeferred = true
        loop.afterEndOfTurn { [weak self] in
            guard let self, self.deliveryDeferred else { return }
            self.deliveryDeferred = false
            self.callsInBatch = 0
            self.deliverFrames()
            // More may wait in OpenSSL's buffers, which raise no epoll event.
            if self.isOpen && !self.readPaused { self.readAvailable(newBatch: false) }
            self.updateInterest()
        }
    }

    // MARK: - Writing

    private func scheduleFlush() {
        guard !flushScheduled else { return }
        flushScheduled = true
        loop.atEndOfTurn { [weak self] in
            guard let self else { return }
            self.flushScheduled = false
            self.flush()
            self.updateInterest()
        }
    }

    private func scheduleCoalescedFlush() {
        guard !flushScheduled, coalescingTimer == nil else { return }
        coalescingTimer = loop.scheduleTimer(at: .now + limits.coalescingDelay) { [weak self] in
            guard let self else { return }
            self.coalescingTimer = nil
            self.flush()
            self.updateInterest()
        }
    }

    private func flush() {
        if let coalescingTimer {
            loop.cancelTimer(coalescingTimer)
            self.coalescingTimer = nil
        }
        switch state {
        case .open, .closing: break
        case .handshaking, .closed: return
        }
        let wasBackedUp = isBackedUp
        while outboundOffset < outbound.count {
            let result = outbound.withUnsafeBytes { raw in
                tls.write(UnsafeRawBufferPointer(rebasing: raw[outboundOffset...]))
            }
            switch result {
            case .wrote(let count):
                outboundOffset += count
            case .wantRead, .wantWrite:
                compactOutbound()
                notifyDrainIfNeeded(wasBackedUp)
                return
            case .failed(let error):
                finishClose(TransportError(.unavailable, error.description))
                return
            }
        }
        // Everything is written: release large buffers so idle connections stay small.
        if outbound.capacity > 64 << 10 {
            outbound = []
        } else {
            outbound.removeAll(keepingCapacity: true)
        }
        outboundOffset = 0
        if case .closing(let error) = state {
            finishClose(error)
            return
        }
        notifyDrainIfNeeded(wasBackedUp)
    }

    private func compactOutbound() {
        if outboundOffset > 0 && outboundOffset >= outbound.count / 2 {
            outbound.removeFirst(outboundOffset)
            outboundOffset = 0
        }
    }

    private func notifyDrainIfNeeded(_ wasBackedUp: Bool) {
        let buffered = outbound.count - outboundOffset
        if readPaused, isOpen, buffered <= limits.outboundLowWatermark {
            readPaused = false
            // Plaintext already decrypted by OpenSSL raises no epoll event: read it now.
            loop.atEndOfTurn { [weak self] in self?.readAvailable() }
        }
        if wasBackedUp && buffered <= limits.outboundLowWatermark {
            delegate?.transportDidDrain()
        }
    }

    // MARK: - Interest and closing

    private func updateInterest() {
        var events: UInt32 = 0
        switch state {
        case .handshaking, .closed:
            return
        case .open:
            if isBackedUp { readPaused = true }
            if !readPaused { events |= EPOLLIN.rawValue }
        case .closing:
            break
        }
        if outboundOffset < outbound.count { events |= EPOLLOUT.rawValue }
        setInterest(events)
    }

    private func setInterest(_ events: UInt32) {
        guard events != registeredEvents else { return }
        registeredEvents = events
        loop.reregister(fd, events: events)
    }

    private func finishClose(_ error: TransportError?) {
        if case .closed = state { return }
        let wasOpen: Bool
        switch state {
        case .open, .closing: wasOpen = true
        default: wasOpen = false
        }
        state = .closed
        // A waiting connection keeps its place: when its turn comes it passes the slot on.
        if case .held = slot { releaseHandshakeSlot() }
        if let closeTimer { loop.cancelTimer(closeTimer) }
        if let coalescingTimer { loop.cancelTimer(coalescingTimer) }
        if wasOpen && error == nil { tls.shutdown() }
        loop.deregister(fd)
        Glibc.close(fd)
        outbound = []
        heldFrame = nil
        deliveryDeferred = false
        decoder = FrameDecoder(maxFrameSize: limits.maxFrameSize)
        delegate?.transportDidClose(error)
    }
}

/// A weak reference to a transport waiting for a handshake slot, carried to its loop.
private final class WaitingTransport: @unchecked Sendable {
    // @unchecked Sendable: the reference is only followed on the transport's own loop.
    weak var transport: FramedTransport?

    init(_ transport: FramedTransport) {
        self.transport = transport
    }
}
