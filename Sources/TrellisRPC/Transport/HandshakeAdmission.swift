import Synchronization

/// Bounds the TLS handshakes a server works on at once.
///
/// A handshake takes a slot when its connection first has bytes to read (its
/// ClientHello), not when it is accepted: a socket that connects and says nothing holds
/// no slot, and is left to the handshake timeout. Connections that spoke while every slot
/// was taken wait, in arrival order and without a timeout of their own (they are bounded
/// by the connection limit), and a slot freed by a finished handshake goes to the oldest.
/// After a restart, a fleet reconnecting at once then gets its handshakes finished in
/// turn, instead of thousands advancing together until their timeouts waste them.
final class HandshakeAdmission: Sendable {
    /// A connection waiting for a slot: called on its own loop once it has one.
    typealias Admit = @Sendable () -> Void

    private struct State {
        var inProgress = 0
        var waiting: [Admit] = []
        var waitingHead = 0
        /// Since the start: connections given a slot, and of those, how many waited for it.
        var admitted = 0
        var queued = 0
    }

    let limit: Int
    private let state = Mutex(State())

    init(limit: Int) {
        precondition(limit > 0, "a handshake admission limit must be positive")
        self.limit = limit
    }

    /// Handshakes holding a slot now.
    var inProgress: Int { state.withLock { $0.inProgress } }

    /// Connections that spoke and wait for a slot now.
    var waiting: Int { state.withLock { $0.waiting.count - $0.waitingHead } }

    /// Since the start: connections that took a slot (at once or after waiting), and
    /// connections that had to wait for one.
    var totals: (admitted: Int, queued: Int) { state.withLock { ($0.admitted, $0.queued) } }

    /// Takes a slot now (true), or queues `admit` for when one frees (false).
    func enter(orWait admit: @escaping Admit) -> Bool {
        state.withLock { state in
            if state.inProgress < limit {
                state.inProgress += 1
                state.admitted += 1
                return true
            }
            state.waiting.append(admit)
            state.queued += 1
            return false
        }
    }

    /// A handshake that held a slot finished (ready, failed or closed): the slot goes to
    /// the oldest waiting connection, if any.
    func leave() {
        let next = state.withLock { state -> Admit? in
            guard state.waitingHead < state.waiting.count else {
                state.inProgress -= 1
                return nil
            }
            let admit = state.waiting[state.waitingHead]
            state.waitingHead += 1
            state.admitted += 1
            if state.waitingHead == state.waiting.count {
                state.waiting.removeAll(keepingCapacity: false)
                state.waitingHead = 0
            }
            return admit
        }
        next?()
    }
}
