import Synchronization

/// A counting semaphore for tasks: at most `count` holders at once; others wait, in
/// order, without blocking a thread.
final class Slots: Sendable {
    private struct State {
        var free: Int
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    /// Protects the free count and the queue of waiters.
    private let state: Mutex<State>

    init(_ count: Int) {
        precondition(count > 0, "a semaphore needs at least one slot")
        state = Mutex(State(free: count))
    }

    /// Takes a slot, waiting for one when none is free.
    func acquire() async {
        await withCheckedContinuation { continuation in
            let granted = state.withLock { state -> Bool in
                if state.free > 0 {
                    state.free -= 1
                    return true
                }
                state.waiters.append(continuation)
                return false
            }
            if granted { continuation.resume() }
        }
    }

    /// Gives a slot back, to the longest waiter if there is one.
    func release() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if state.waiters.isEmpty {
                state.free += 1
                return nil
            }
            return state.waiters.removeFirst()
        }
        next?.resume()
    }
}
