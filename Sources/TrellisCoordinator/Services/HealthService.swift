import Synchronization
import TrellisAPI
import TrellisRPC
import TrellisWire

/// The serving status of the server and of each named service, with watchers.
///
/// Status changes are pushed to every open Watch call. A watcher that falls behind sees
/// only the latest status: health is a level, not a log of events.
public final class HealthStatus: Sendable {
    private struct State {
        var statuses: [String: TrellisV1.ServingStatus]
        var watchers: [UInt64: AsyncStream<TrellisV1.ServingStatus>.Continuation] = [:]
        var nextWatcher: UInt64 = 0
    }

    private let state: Mutex<State>

    /// Starts with the whole server (`""`) and each named service `SERVING`.
    public init(services: [String]) {
        var statuses: [String: TrellisV1.ServingStatus] = ["": .serving]
        for service in services { statuses[service] = .serving }
        state = Mutex(State(statuses: statuses))
    }

    /// The status of `service`, nil if the server does not know it.
    public func status(of service: String) -> TrellisV1.ServingStatus? {
        state.withLock { $0.statuses[service] }
    }

    /// Sets every known service, and the server, to `status`.
    public func setAll(_ status: TrellisV1.ServingStatus) {
        let notify = state.withLock { state -> [AsyncStream<TrellisV1.ServingStatus>.Continuation] in
            for key in state.statuses.keys { state.statuses[key] = status }
            return Array(state.watchers.values)
        }
        for watcher in notify { watcher.yield(status) }
    }

    /// Sets everything `NOT_SERVING`, then ends every Watch call: a draining server tells
    /// watchers once and lets their calls finish instead of holding the drain open.
    public func shutDown() {
        setAll(.notServing)
        let watchers = state.withLock { state -> [AsyncStream<TrellisV1.ServingStatus>.Continuation] in
            let all = Array(state.watchers.values)
            state.watchers = [:]
            return all
        }
        for watcher in watchers { watcher.finish() }
    }

    /// A stream of `service`'s status, starting with the current one.
    func watch(_ service: String) -> AsyncStream<TrellisV1.ServingStatus>? {
        let (stream, continuation) = AsyncStream<TrellisV1.ServingStatus>.makeStream(
            bufferingPolicy: .bufferingNewest(1))
        let registered = state.withLock { state -> Bool in
            guard let current = state.statuses[service] else { return false }
            let id = state.nextWatcher
            state.nextWatcher += 1
            state.watchers[id] = continuation
            continuation.yield(current)
            continuation.onTermination = { [weak self] _ in
                _ = self?.state.withLock { $0.watchers.removeValue(forKey: id) }
            }
            return true
        }
        return registered ? stream : nil
    }
}

/// `trellis.v1.HealthService`: Check and Watch over a ``HealthStatus``.
public enum HealthService {
    /// Adds the service's methods to `router`.
    public static func register(into router: inout RPCRouter, status: HealthStatus) {
        router.register(TrellisV1.HealthService.check) { request, _ in
            guard let current = status.status(of: request.service) else {
                throw RPCError(.notFound, "health: unknown service \(request.service)")
            }
            return TrellisV1.HealthCheckResponse(status: current)
        }
        router.register(TrellisV1.HealthService.watch) { request, writer, _ in
            guard let updates = status.watch(request.service) else {
                throw RPCError(.notFound, "health: unknown service \(request.service)")
            }
            var last: TrellisV1.ServingStatus?
            for await update in updates where update != last {
                last = update
                try await writer.write(TrellisV1.HealthCheckResponse(status: update))
            }
        }
    }
}
