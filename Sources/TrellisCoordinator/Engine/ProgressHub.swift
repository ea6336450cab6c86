import Synchronization
import TrellisAPI
import TrellisRPC

/// Fans progress events out to every subscriber: Apply and Delete calls following their
/// environments, and Watch calls.
///
/// Publishing never waits for a subscriber. An Apply or Delete stream buffers without
/// bound (its length is bounded by the operation's events); a Watch keeps the newest
/// 10,000 events, so a stalled watcher loses old events rather than holding memory.
final class ProgressHub: Sendable {
    private let subscribers = Mutex<[UInt64: ProgressQueue]>([:])
    private let nextID = Atomic<UInt64>(0)

    /// Events of `environments` (every environment when nil) from now on.
    func subscribe(to environments: Set<String>?, unbounded: Bool) -> ProgressStream {
        let id = nextID.add(1, ordering: .relaxed).oldValue
        let queue = ProgressQueue(environments: environments, capacity: unbounded ? nil : 10_000)
        subscribers.withLock { $0[id] = queue }
        return ProgressStream(queue: queue) { [weak self] in
            _ = self?.subscribers.withLock { $0.removeValue(forKey: id) }
        }
    }

    func publish(_ event: TrellisV1.ProgressEvent) {
        // Pushed outside the lock: a push may wake a reader, which is a system call.
        let targets = subscribers.withLock { subscribers in
            subscribers.values.filter { $0.environments?.contains(event.environment) ?? true }
        }
        for queue in targets { queue.push(event) }
    }

    /// Subscriptions open now.
    var subscriberCount: Int { subscribers.withLock { $0.count } }

    /// Ends every subscription (at shutdown).
    func finishAll() {
        let all = subscribers.withLock { subscribers -> [ProgressQueue] in
            let all = Array(subscribers.values)
            subscribers = [:]
            return all
        }
        for queue in all { queue.finish() }
    }
}

/// One subscriber's events, in order: the hub pushes, one task reads.
///
/// A small queue of its own rather than an `AsyncStream`: a push is an append under a lock,
/// and wakes the reader only when it is waiting, so a reader that keeps up pays one
/// resumption per event it waits for and none for events that were already there; a
/// reader in a steady stream waits a moment (``gathering``) before it waits for a push.
final class ProgressQueue: Sendable {
    private struct State {
        var events: [TrellisV1.ProgressEvent] = []
        var head = 0
        var reader: CheckedContinuation<TrellisV1.ProgressEvent?, Never>?
        var finished = false
        /// When the reader last came back from waiting for an event.
        var lastWoken: ContinuousClock.Instant?
    }

    /// The environments whose events this subscriber gets; nil for all.
    let environments: Set<String>?
    /// The most events kept for a reader that falls behind (the oldest go first); nil
    /// for no bound.
    let capacity: Int?
    private let state = Mutex(State())
    /// How long a reader that was woken moments ago lets the next events gather before
    /// it waits again: under the 2 ms for which the RPC layer coalesces resource events
    /// anyway, so a steady stream costs one wake-up of the reader's loop per millisecond
    /// rather than one per event.
    static let gathering = Duration.milliseconds(1)

    init(environments: Set<String>?, capacity: Int?) {
        self.environments = environments
        self.capacity = capacity
    }

    func push(_ event: TrellisV1.ProgressEvent) {
        let reader = state.withLock { state -> CheckedContinuation<TrellisV1.ProgressEvent?, Never>? in
            guard !state.finished else { return nil }
            if let reader = state.reader {
                state.reader = nil
                return reader
            }
            state.events.append(event)
            if let capacity, state.events.count - state.head > capacity { state.head += 1 }
            if state.head > 1024 && state.head * 2 > state.events.count {
                state.events.removeFirst(state.head)
                state.head = 0
            }
            return nil
        }
        reader?.resume(returning: event)
    }

    /// No more events: the reader gets those queued, then nil.
    func finish() {
        let reader = state.withLock { state -> CheckedContinuation<TrellisV1.ProgressEvent?, Never>? in
            state.finished = true
            let reader = state.reader
            state.reader = nil
            return reader
        }
        reader?.resume(returning: nil)
    }

    /// The next event; nil once finished and drained, or when the reading task is
    /// cancelled.
    func next() async -> TrellisV1.ProgressEvent? {
        if let event = state.withLock({ Self.take(&$0) }) { return event }
        // Events have been arriving: let the next ones gather for a moment.
        if let woken = state.withLock({ $0.lastWoken }), ContinuousClock.now - woken < Self.gathering {
            // A reader on a connection's loop (a call's handler) waits on the loop's timers.
            if let loop = EventLoop.current {
                await loop.sleep(for: Self.gathering)
            } else {
                try? await Task.sleep(for: Self.gathering)
            }
            if let event = state.withLock({ Self.take(&$0) }) { return event }
        }
        defer { state.withLock { $0.lastWoken = .now } }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let ready = state.withLock { state -> TrellisV1.ProgressEvent?? in
                    if let event = Self.take(&state) { return .some(event) }
                    if state.finished || Task.isCancelled { return .some(nil) }
                    state.reader = continuation
                    return nil
                }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            finish()
        }
    }

    private static func take(_ state: inout State) -> TrellisV1.ProgressEvent? {
        guard state.head < state.events.count else { return nil }
        let event = state.events[state.head]
        state.head += 1
        if state.head == state.events.count {
            state.events.removeAll(keepingCapacity: true)
            state.head = 0
        }
        return event
    }
}

/// A subscriber's events as an async sequence. Once neither the stream nor an iterator of
/// it is left, the subscription ends (`onTermination`).
struct ProgressStream: AsyncSequence, Sendable {
    typealias Element = TrellisV1.ProgressEvent

    /// Ends the subscription when the last reference goes.
    fileprivate final class Subscription: Sendable {
        let queue: ProgressQueue
        let onTermination: @Sendable () -> Void

        init(queue: ProgressQueue, onTermination: @escaping @Sendable () -> Void) {
            self.queue = queue
            self.onTermination = onTermination
        }

        deinit {
            queue.finish()
            onTermination()
        }
    }

    private let subscription: Subscription

    init(queue: ProgressQueue, onTermination: @escaping @Sendable () -> Void) {
        subscription = Subscription(queue: queue, onTermination: onTermination)
    }

    struct AsyncIterator: AsyncIteratorProtocol {
        fileprivate let subscription: Subscription

        mutating func next() async -> TrellisV1.ProgressEvent? {
            await subscription.queue.next()
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(subscription: subscription)
    }
}
