import Synchronization
import TrellisAPI

/// Fans progress events out to every subscriber: Apply and Delete calls following their
/// environments, and Watch calls.
///
/// Publishing never waits for a subscriber. An Apply or Delete stream buffers without
/// bound (its length is bounded by the operation's events); a Watch keeps the newest
/// 10,000 events, so a stalled watcher loses old events rather than holding memory.
final class ProgressHub: Sendable {
    private struct Subscriber {
        let environments: Set<String>?
        let continuation: AsyncStream<TrellisV1.ProgressEvent>.Continuation
    }

    private let subscribers = Mutex<[UInt64: Subscriber]>([:])
    private let nextID = Atomic<UInt64>(0)

    /// Events of `environments` (every environment when nil) from now on.
    func subscribe(to environments: Set<String>?, unbounded: Bool) -> AsyncStream<TrellisV1.ProgressEvent> {
        let id = nextID.add(1, ordering: .relaxed).oldValue
        let (stream, continuation) = AsyncStream<TrellisV1.ProgressEvent>.makeStream(
            bufferingPolicy: unbounded ? .unbounded : .bufferingNewest(10_000))
        continuation.onTermination = { [weak self] _ in
            _ = self?.subscribers.withLock { $0.removeValue(forKey: id) }
        }
        subscribers.withLock { $0[id] = Subscriber(environments: environments, continuation: continuation) }
        return stream
    }

    func publish(_ event: TrellisV1.ProgressEvent) {
        let targets = subscribers.withLock { subscribers in
            subscribers.values.filter { $0.environments?.contains(event.environment) ?? true }.map(\.continuation)
        }
        for target in targets { target.yield(event) }
    }

    /// Ends every subscription (at shutdown).
    func finishAll() {
        let all = subscribers.withLock { subscribers -> [AsyncStream<TrellisV1.ProgressEvent>.Continuation] in
            let all = subscribers.values.map(\.continuation)
            subscribers = [:]
            return all
        }
        for continuation in all { continuation.finish() }
    }
}
