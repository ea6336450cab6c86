import Synchronization

/// A write that several tasks carry and that must be made durable, and announced, once.
///
/// The first carrier to take it claims it; a carrier that takes it while the claimant is
/// still writing writes it as well (its writes are idempotent), so that no carrier waits
/// for another's write. Whichever write ends first announces it: that carrier publishes
/// the resource's Ready event and then marks it written. A carrier waits only while the
/// announcement is being made, or after the claimant failed with nobody else writing.
///
/// ```
///   open --take--> writing --announce--> publishing --published--> written
///     ^              |                        ^
///     +---failed-----+    open --announce-----+   (a carrier alongside made it durable)
/// ```
final class SharedWrite: Sendable {
    /// What a carrier that takes the write is to do.
    enum Part: Equatable {
        /// Write it; announce it if the write succeeds, hand it back with
        /// ``failed()`` if not.
        case claimed
        /// Write it too: another carrier is writing it. Announce it if the write
        /// succeeds; nothing to hand back if not.
        case alongside
        /// It is durable: wait, with ``written()``, for its announcement.
        case done
    }

    private enum State {
        case open
        case writing(waiters: [CheckedContinuation<Bool, Never>])
        case publishing(waiters: [CheckedContinuation<Bool, Never>])
        case written
    }

    private let state = Mutex(State.open)

    /// Takes the write: claims it when nobody is writing it.
    func take() -> Part {
        state.withLock { state in
            switch state {
            case .open:
                state = .writing(waiters: [])
                return .claimed
            case .writing: return .alongside
            case .publishing, .written: return .done
            }
        }
    }

    /// After a write of it succeeded: true when the caller is the first to make it durable
    /// and so publishes its event, then calls ``published()``.
    func announce() -> Bool {
        state.withLock { state in
            switch state {
            case .open:
                state = .publishing(waiters: [])
                return true
            case .writing(let waiters):
                state = .publishing(waiters: waiters)
                return true
            case .publishing, .written:
                return false
            }
        }
    }

    /// Its event is published: the carriers waiting go on.
    func published() {
        let waiters = state.withLock { state -> [CheckedContinuation<Bool, Never>] in
            guard case .publishing(let waiters) = state else { return [] }
            state = .written
            return waiters
        }
        for waiter in waiters { waiter.resume(returning: true) }
    }

    /// The claimant's write failed: unless a carrier alongside made it durable, it is open
    /// again, and the carriers waiting are told so, to claim it.
    func failed() {
        let waiters = state.withLock { state -> [CheckedContinuation<Bool, Never>] in
            guard case .writing(let waiters) = state else { return [] }
            state = .open
            return waiters
        }
        for waiter in waiters { waiter.resume(returning: false) }
    }

    /// Whether it is written and announced, without waiting.
    var isWritten: Bool {
        state.withLock { state in
            if case .written = state { return true }
            return false
        }
    }

    /// How many tasks wait for it.
    var waiting: Int {
        state.withLock { state in
            switch state {
            case .writing(let waiters), .publishing(let waiters): return waiters.count
            case .open, .written: return 0
            }
        }
    }

    /// Waits while it is being written or announced; true once it is written and
    /// announced, false when it is open for the caller to claim.
    func written() async -> Bool {
        await withCheckedContinuation { continuation in
            let now: Bool? = state.withLock { state in
                switch state {
                case .open: return false
                case .written: return true
                case .writing(var waiters):
                    waiters.append(continuation)
                    state = .writing(waiters: waiters)
                    return nil
                case .publishing(var waiters):
                    waiters.append(continuation)
                    state = .publishing(waiters: waiters)
                    return nil
                }
            }
            if let now { continuation.resume(returning: now) }
        }
    }
}
