import CEpoll
import Synchronization
import TrellisThreads

#if canImport(Glibc)
import Glibc
#endif

/// One thread running `epoll_wait`, which is also a serial executor; its ``taskExecutor``
/// runs tasks that prefer the loop on the same thread.
///
/// Everything a loop owns (file-descriptor handlers, timers, the connections registered
/// on it) is touched only on the loop's own thread. Other threads reach it through
/// ``execute(_:)`` or by enqueueing jobs, which wakes the loop through an eventfd.
/// Actors whose `unownedExecutor` is a loop run on that thread, so epoll callbacks can
/// enter them with `assumeIsolated`.
///
/// Each turn of the loop: wait for I/O or the next timer, dispatch I/O events, fire due
/// timers, run queued jobs until none are left, then run the end-of-turn callbacks
/// (connections flush the frames they coalesced during the turn).
public final class EventLoop: @unchecked Sendable {
    // @unchecked Sendable: `pending` is behind a Mutex; every other stored property is
    // either immutable after init or confined to the loop thread (`confined`).

    /// Work handed in from any thread, protected by its mutex.
    private struct Pending {
        var jobs: [QueuedJob] = []
        var closures: [@Sendable () -> Void] = []
        /// Whether an eventfd write is outstanding, so producers write it only once.
        var wakeupSignalled = false
        var stopRequested = false
    }

    /// State used only on the loop thread.
    final class Confined {
        var handlers: [Int32: any EventHandler] = [:]
        var timers = TimerQueue()
        var endOfTurn: [() -> Void] = []
        var afterEndOfTurn: [() -> Void] = []
        /// A scratch buffer for socket reads, shared by every connection on the loop.
        let readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)

        deinit { readBuffer.deallocate() }
    }

    /// The tasks suspended in ``sleep(for:)``, so that the loop's end wakes those whose
    /// timers will not fire.
    private struct Sleepers {
        var nextID: UInt64 = 0
        var waiting: [UInt64: CheckedContinuation<Void, Never>] = [:]
        var loopEnded = false
    }

    /// A job and the executor it was enqueued on.
    private struct QueuedJob {
        var job: UnownedJob
        /// Enqueued on ``taskExecutor`` (a task preferring the loop, outside any actor),
        /// rather than on the loop as the serial executor of an actor.
        var forTask: Bool
    }

    /// A short name used in thread names and logs, e.g. `loop-0`.
    public let name: String
    /// Runs tasks that prefer this loop (`Task(executorPreference: loop.taskExecutor)`)
    /// on its thread. It is a separate object because a job's executor is known only by
    /// where it was enqueued: a task's job run as the loop's serial executor would have
    /// to hop again at its next nonisolated call.
    public let taskExecutor = LoopTaskExecutor()
    private let epollFD: Int32
    private let wakeFD: Int32
    private let pending = Mutex(Pending())
    private let threadID = Atomic<UInt>(0)
    private let finished = Mutex<[CheckedContinuation<Void, Never>]?>([])
    private let sleepers = Mutex(Sleepers())
    let confined = Confined()

    /// Starts a loop on a new thread.
    public init(name: String) throws(RPCSystemError) {
        self.name = name
        let epollFD = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epollFD >= 0 else { throw RPCSystemError(function: "epoll_create1", errno: trellis_errno()) }
        let wakeFD = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        guard wakeFD >= 0 else {
            close(epollFD)
            throw RPCSystemError(function: "eventfd", errno: trellis_errno())
        }
        self.epollFD = epollFD
        self.wakeFD = wakeFD
        taskExecutor.loop = self

        var event = epoll_event()
        event.events = EPOLLIN.rawValue
        event.data.fd = wakeFD
        // Every stored property is set: a throw from here on runs deinit, which closes both.
        guard epoll_ctl(epollFD, EPOLL_CTL_ADD, wakeFD, &event) == 0 else {
            throw RPCSystemError(function: "epoll_ctl", errno: trellis_errno())
        }
        let started = DetachedThread.start(name: name) { [self] in self.runLoop() }
        guard started == 0 else { throw RPCSystemError(function: "pthread_create", errno: started) }
    }

    deinit {
        close(epollFD)
        close(wakeFD)
    }

    /// Whether the caller is running on this loop's thread.
    public var inEventLoop: Bool {
        threadID.load(ordering: .acquiring) == UInt(pthread_self())
    }

    /// The loop whose thread the caller runs on, if any: a call's handler runs there.
    public static var current: EventLoop? {
        guard let pointer = pthread_getspecific(currentKey) else { return nil }
        return Unmanaged<EventLoop>.fromOpaque(pointer).takeUnretainedValue()
    }

    private static let currentKey: pthread_key_t = {
        var key = pthread_key_t()
        let result = pthread_key_create(&key, nil)
        precondition(result == 0, "pthread_key_create failed: \(result)")
        return key
    }()

    /// Suspends the calling task for `duration`, rounded up to the loop's millisecond, on
    /// the loop's own timers. A task that runs on this loop (a handler) is woken by the
    /// loop itself, where `Task.sleep` would take a dispatch timer and two other threads.
    /// Safe from any thread. When the loop ends first, the task wakes then, early; on a
    /// loop that has ended it does not wait at all.
    public func sleep(for duration: Duration) async {
        let deadline = ContinuousClock.now + duration
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let id = sleepers.withLock { sleepers -> UInt64? in
                guard !sleepers.loopEnded else { return nil }
                let id = sleepers.nextID
                sleepers.nextID += 1
                sleepers.waiting[id] = continuation
                return id
            }
            guard let id else { return continuation.resume() }
            if inEventLoop {
                scheduleTimer(at: deadline) { self.wakeSleeper(id) }
            } else {
                execute { self.scheduleTimer(at: deadline) { self.wakeSleeper(id) } }
            }
        }
    }

    /// Tasks suspended in ``sleep(for:)`` now.
    var sleeperCount: Int { sleepers.withLock { $0.waiting.count } }

    /// Resumes the sleeper `id` unless the loop's end already did.
    private func wakeSleeper(_ id: UInt64) {
        sleepers.withLock { $0.waiting.removeValue(forKey: id) }?.resume()
    }

    /// Runs `work` on the loop thread, soon. Safe from any thread.
    public func execute(_ work: @escaping @Sendable () -> Void) {
        let signal = pending.withLock { state -> Bool in
            state.closures.append(work)
            return Self.claimWakeupLocked(&state)
        }
        if signal && !inEventLoop { wake() }
    }

    /// Asks the loop to stop after its current turn and waits until its thread has ended.
    /// Handlers still registered are closed by their owners, not by the loop.
    public func shutdown() async {
        let alreadyStopped = pending.withLock { state -> Bool in
            let was = state.stopRequested
            state.stopRequested = true
            return was
        }
        if !alreadyStopped { wake() }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = finished.withLock { waiters -> Bool in
                guard waiters != nil else { return true }
                waiters!.append(continuation)
                return false
            }
            if done { continuation.resume() }
        }
    }

    // MARK: - Loop-thread API

    /// Registers `handler` for events on `fd`. Loop thread only.
    func register(_ fd: Int32, events: UInt32, handler: any EventHandler) throws(RPCSystemError) {
        precondition(inEventLoop, "EventLoop.register called off the loop thread")
        var event = epoll_event()
        event.events = events
        event.data.fd = fd
        guard epoll_ctl(epollFD, EPOLL_CTL_ADD, fd, &event) == 0 else {
            throw RPCSystemError(function: "epoll_ctl(ADD)", errno: trellis_errno())
        }
        confined.handlers[fd] = handler
    }

    /// Changes the events wanted for a registered `fd`. Loop thread only.
    func reregister(_ fd: Int32, events: UInt32) {
        precondition(inEventLoop, "EventLoop.reregister called off the loop thread")
        var event = epoll_event()
        event.events = events
        event.data.fd = fd
        // Failure means the fd is not registered, a programming error upstream.
        let result = epoll_ctl(epollFD, EPOLL_CTL_MOD, fd, &event)
        precondition(result == 0, "epoll_ctl(MOD) failed for fd \(fd): errno \(trellis_errno())")
    }

    /// Removes `fd` from the loop. The caller closes the fd afterwards. Loop thread only.
    func deregister(_ fd: Int32) {
        precondition(inEventLoop, "EventLoop.deregister called off the loop thread")
        guard confined.handlers.removeValue(forKey: fd) != nil else { return }
        var event = epoll_event()
        _ = epoll_ctl(epollFD, EPOLL_CTL_DEL, fd, &event)
    }

    /// Calls `body` once at `deadline` unless cancelled first. Loop thread only.
    @discardableResult
    func scheduleTimer(at deadline: ContinuousClock.Instant, _ body: @escaping () -> Void) -> TimerID {
        precondition(inEventLoop, "EventLoop.scheduleTimer called off the loop thread")
        return confined.timers.schedule(at: deadline, body)
    }

    /// Cancels a timer that has not fired yet. Loop thread only.
    func cancelTimer(_ id: TimerID) {
        precondition(inEventLoop, "EventLoop.cancelTimer called off the loop thread")
        confined.timers.cancel(id)
    }

    /// Runs `body` at the end of the current turn, after queued jobs. Loop thread only.
    func atEndOfTurn(_ body: @escaping () -> Void) {
        precondition(inEventLoop, "EventLoop.atEndOfTurn called off the loop thread")
        confined.endOfTurn.append(body)
    }

    /// Runs `body` once the end-of-turn callbacks queued so far have run, so that what it
    /// starts is flushed apart from what came before. Loop thread only.
    func afterEndOfTurn(_ body: @escaping () -> Void) {
        precondition(inEventLoop, "EventLoop.afterEndOfTurn called off the loop thread")
        confined.afterEndOfTurn.append(body)
    }

    // MARK: - The loop

    private func runLoop() {
        threadID.store(UInt(pthread_self()), ordering: .releasing)
        pthread_setspecific(Self.currentKey, Unmanaged.passUnretained(self).toOpaque())
        let capacity = 256
        let events = UnsafeMutablePointer<epoll_event>.allocate(capacity: capacity)
        defer { events.deallocate() }

        while true {
            let timeout = nextTimeoutMilliseconds()
            let count = epoll_wait(epollFD, events, Int32(capacity), timeout)
            if count < 0 && trellis_errno() != EINTR {
                preconditionFailure("epoll_wait failed: errno \(trellis_errno())")
            }
            for index in 0..<max(0, Int(count)) {
                let event = events[index]
                let fd = event.data.fd
                if fd == wakeFD {
                    var value: UInt64 = 0
                    _ = read(wakeFD, &value, 8)
                    continue
                }
                // A handler earlier in this batch may have closed this fd.
                confined.handlers[fd]?.handleEvents(event.events)
            }
            for body in confined.timers.takeDue(now: .now) { body() }
            if runQueuedWork() { break }
        }
        finish()
    }

    /// Runs jobs and closures until none remain, then end-of-turn callbacks. Returns
    /// whether the loop was asked to stop.
    ///
    /// End-of-turn callbacks (the transports' flushes) run only once the queue is empty,
    /// so that a task resuming itself many times in one turn, such as a handler writing
    /// a stream of small messages, has all its frames written together rather than one
    /// write per resumption. After `maxPasses` passes the callbacks run anyway and the
    /// loop goes back to epoll, so that a task that never stops resuming cannot starve
    /// I/O or hold back what it has written.
    private func runQueuedWork() -> Bool {
        let maxPasses = 64
        var stop = false
        var passes = 0
        while true {
            let (jobs, closures, stopRequested) = pending.withLock { state in
                let taken = (state.jobs, state.closures, state.stopRequested)
                state.jobs = []
                state.closures = []
                state.wakeupSignalled = false
                return taken
            }
            stop = stopRequested
            let queueEmpty = jobs.isEmpty && closures.isEmpty
            if queueEmpty && confined.endOfTurn.isEmpty && confined.afterEndOfTurn.isEmpty { break }
            for closure in closures { closure() }
            if !jobs.isEmpty {
                let serial = asUnownedSerialExecutor()
                let task = taskExecutor.asUnownedTaskExecutor()
                for queued in jobs {
                    if queued.forTask {
                        queued.job.runSynchronously(on: task)
                    } else {
                        queued.job.runSynchronously(isolatedTo: serial, taskExecutor: task)
                    }
                }
            }
            passes += 1
            if queueEmpty || passes >= maxPasses {
                // Callbacks may queue more work (a drained transport resumes writers);
                // it runs in a later pass, or in the next turn once the budget is spent.
                let callbacks = confined.endOfTurn
                confined.endOfTurn = []
                for callback in callbacks { callback() }
                // Work held back for after the flushes (a transport delivering the rest of
                // a batch of calls) starts now and is flushed in a later pass.
                let later = confined.afterEndOfTurn
                confined.afterEndOfTurn = []
                for body in later { body() }
                if passes >= maxPasses { break }
            }
        }
        return stop
    }

    private func nextTimeoutMilliseconds() -> Int32 {
        let hasWork = pending.withLock { !$0.jobs.isEmpty || !$0.closures.isEmpty || $0.stopRequested }
        if hasWork || !confined.endOfTurn.isEmpty || !confined.afterEndOfTurn.isEmpty { return 0 }
        guard let next = confined.timers.nextDeadline() else { return -1 }
        let remaining = ContinuousClock.now.duration(to: next)
        if remaining <= .zero { return 0 }
        let (seconds, attoseconds) = remaining.components
        // Round up so the timer is due when the loop wakes.
        let millis = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return Int32(min(millis, Int64(Int32.max)))
    }

    private func finish() {
        // Timers do not fire any more: the tasks asleep on them wake now.
        let asleep = sleepers.withLock { sleepers -> [CheckedContinuation<Void, Never>] in
            sleepers.loopEnded = true
            defer { sleepers.waiting = [:] }
            return Array(sleepers.waiting.values)
        }
        for sleeper in asleep { sleeper.resume() }
        let waiters = finished.withLock { waiters -> [CheckedContinuation<Void, Never>] in
            let taken = waiters ?? []
            waiters = nil
            return taken
        }
        for waiter in waiters { waiter.resume() }
    }

    private func wake() {
        var one: UInt64 = 1
        _ = write(wakeFD, &one, 8)
    }

    /// Marks a wakeup as signalled; returns whether this caller must write the eventfd.
    private static func claimWakeupLocked(_ state: inout Pending) -> Bool {
        if state.wakeupSignalled { return false }
        state.wakeupSignalled = true
        return true
    }

    fileprivate func enqueueJob(_ job: UnownedJob, forTask: Bool) {
        let signal = pending.withLock { state -> Bool in
            state.jobs.append(QueuedJob(job: job, forTask: forTask))
            return Self.claimWakeupLocked(&state)
        }
        if signal && !inEventLoop { wake() }
    }
}

/// Receives epoll events for one file descriptor, on the loop thread.
protocol EventHandler: AnyObject {
    func handleEvents(_ events: UInt32)
}

extension EventLoop: SerialExecutor {
    public func enqueue(_ job: consuming ExecutorJob) {
        enqueueJob(UnownedJob(job), forTask: false)
    }

    public func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }

    public func checkIsolated() {
        precondition(inEventLoop, "expected to run on event loop \(name)")
    }
}

/// The task executor of an ``EventLoop``: jobs of tasks that prefer the loop.
public final class LoopTaskExecutor: TaskExecutor, @unchecked Sendable {
    // @unchecked Sendable: the only stored property is an unowned reference to a
    // Sendable loop, set by the loop's initialiser before its thread starts and never
    // changed; the loop owns this object and outlives it.
    unowned(unsafe) var loop: EventLoop!

    init() {}

    public func enqueue(_ job: consuming ExecutorJob) {
        loop.enqueueJob(UnownedJob(job), forTask: true)
    }
}
