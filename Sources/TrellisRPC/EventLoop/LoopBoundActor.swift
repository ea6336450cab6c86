/// An actor whose executor is an event loop: the connections.
protocol LoopBoundActor: Actor {
    /// The loop the actor runs on; its `unownedExecutor` is this loop.
    nonisolated var loop: EventLoop { get }
}

extension LoopBoundActor {
    /// Runs `body` isolated to the actor, synchronously, when the caller already runs on
    /// the actor's loop thread; returns nil without running it anywhere else.
    ///
    /// A handler or caller task that prefers the loop as its executor runs on the loop's
    /// thread but outside the actor's isolation, so every actor call would otherwise
    /// switch executors twice, each switch a job through the loop's queue. The loop runs
    /// one job at a time, so while the caller's job runs nothing else can be inside the
    /// actor, which makes entering it here sound (the same reasoning as the epoll
    /// callbacks' `assumeIsolated`).
    nonisolated func ifOnLoop<T: Sendable>(_ body: (isolated Self) throws -> T) rethrows -> T? {
        guard loop.inEventLoop else { return nil }
        return try assumeIsolated(body)
    }
}
