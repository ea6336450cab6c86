import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Names one supervised program: a `process` resource of one environment.
public struct ProcessKey: Sendable, Hashable, CustomStringConvertible {
    public var environment: String
    public var resource: String

    public init(environment: String, resource: String) {
        self.environment = environment
        self.resource = resource
    }

    public var description: String { "\(environment)/\(resource)" }
}

/// A program's health as its probes see it changed.
public struct HealthChange: Sendable, Hashable {
    public var environment: String
    public var resource: String
    /// The program the probes concern.
    public var pid: Int32
    public var healthy: Bool
    /// Why it is unhealthy: the last probe's failure, or how the program exited.
    public var reason: String?
}

/// Runs and watches the programs of `process` resources on this host: starts them,
/// reaps them, restarts them by their policy, captures their output, probes their health
/// and stops them with their whole process group.
///
/// Programs are owned by (environment, resource). The supervisor runs three threads of
/// its own (reading output and reaping; probing health; delivering output), so nothing
/// it does blocks the cooperative pool; its async methods only wait by sleeping.
///
/// The supervisor outlives an agent's restart in one sense: each program's pid, start
/// time and spec hash are kept in a state file in its environment's directory, and a new
/// supervisor recognises a program recorded there, and still running, as its own.
/// `shutdown()` leaves programs running for that reason; `stopAll()` stops them.
///
/// A program moves through these phases:
///
/// ```
/// starting ──▶ running ──exit──▶ waitingToRestart ──backoff──▶ starting
///                 │        └───▶ exited (policy says no)
///                 └──stop/replace──▶ stopping ──▶ exited (removed on delete)
/// ```
public final class ProcessSupervisor: Sendable {
    /// Timings and bounds; the defaults suit production.
    public struct Configuration: Sendable {
        /// How long a program has between SIGTERM and SIGKILL.
        public var stopGrace: Duration = .seconds(5)
        /// How long apply waits for a program with a health check to become healthy.
        public var healthyWithin: Duration = .seconds(30)
        /// The first delay before a restart; it doubles up to `maximumBackoff`.
        public var initialBackoff: Duration = .milliseconds(100)
        public var maximumBackoff: Duration = .seconds(10)
        /// A program that ran this long before exiting restarts after `initialBackoff` again.
        public var backoffReset: Duration = .seconds(30)
        /// Output lines waiting for slow sinks at most; more are dropped and counted.
        public var outputQueueCapacity = 10_000

        public init() {}
    }

    /// Health changes (not every probe), in order. One consumer: the agent, which
    /// reports them; changes are buffered up to 1,024 when it falls behind.
    public let healthChanges: AsyncStream<HealthChange>

    let configuration: Configuration
    let state = Mutex(State())
    let output: OutputQueue
    let healthContinuation: AsyncStream<HealthChange>.Continuation
    /// Written to wake the output loop when pipes are added or the supervisor stops.
    let wakeRead: Int32
    let wakeWrite: Int32

    /// Starts the supervisor's threads; they run until `shutdown()`, and keep it alive
    /// until then.
    public init(configuration: Configuration = Configuration()) throws(DriverError) {
        self.configuration = configuration
        output = OutputQueue(capacity: configuration.outputQueueCapacity)
        (healthChanges, healthContinuation) = AsyncStream.makeStream(
            of: HealthChange.self, bufferingPolicy: .bufferingNewest(1_024))
        do {
            (wakeRead, wakeWrite) = try makePipe(nonBlocking: .read)
            _ = fcntl(wakeWrite, F_SETFL, fcntl(wakeWrite, F_GETFL) | O_NONBLOCK)
            try SupervisorThread.start { [self] in runOutputLoop() }
            try SupervisorThread.start { [self] in runProbes() }
            try SupervisorThread.start { [output] in output.deliver() }
        } catch {
            throw DriverError("process: starting the supervisor: \(error)")
        }
    }

    deinit {
        // Reached only once the threads, which hold the supervisor, have ended.
        close(wakeRead)
        close(wakeWrite)
    }

    /// Stops the supervisor's threads and output capture, leaving the programs running
    /// for the next supervisor to recognise. Idempotent.
    public func shutdown() {
        let wasStopped = state.withLock { state in
            defer { state.stopped = true }
            return state.stopped
        }
        guard !wasStopped else { return }
        wake()
        output.stop()
        healthContinuation.finish()
    }

    /// Stops every program this supervisor knows of, as delete would.
    public func stopAll() async {
        let keys = state.withLock { Array($0.entries.keys) }
        for key in keys {
            try? await stop(key)
        }
    }

    /// Lines of a resource's output dropped because its sink fell behind.
    public func droppedLineCount(environment: String, resource: String) -> Int {
        output.droppedCount(for: ProcessKey(environment: environment, resource: resource))
    }

    /// The pid of a resource's running program, if one runs.
    public func pid(environment: String, resource: String) -> Int32? {
        state.withLock { state in
            if case .running(let child) = state.entries[ProcessKey(environment: environment, resource: resource)]?
                .phase
            {
                return child.pid
            }
            return nil
        }
    }

    func wake() {
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)
    }
}

// MARK: - State

extension ProcessSupervisor {
    /// Everything about one resource's program the supervisor keeps.
    struct Entry {
        var launch: Launch
        /// The identity hash of the running (or last started) program.
        var identityHash: String
        var phase: Phase
        /// The delay before the next restart.
        var backoff: Duration
        var health: HealthState
    }

    /// What starting a resource's program again needs.
    struct Launch {
        var spec: ProcessSpec
        var environmentDirectory: String
        /// The resolved, absolute working directory.
        var directory: String
        /// `NAME=value` entries.
        var environment: [String]
        var sink: (any OutputSink)?

        func statePath(for key: ProcessKey) -> String {
            StateFile.path(environmentDirectory: environmentDirectory, resource: key.resource)
        }
    }

    /// A program started by this supervisor or recognised from a state file.
    struct Child: Equatable {
        var pid: pid_t
        var startTicks: UInt64
        var startedAt: ContinuousClock.Instant
        /// Started by an earlier agent: not this process's child, so watched through /proc
        /// rather than reaped, and its output is not captured.
        var adopted: Bool
    }

    enum Phase {
        /// Someone is spawning it; others wait.
        case starting
        case running(Child)
        case waitingToRestart(at: ContinuousClock.Instant, after: ExitStatus)
        /// It exited and the policy does not restart it, or it was stopped.
        case exited(ExitStatus)
        /// Signalled to stop by delete or a replacing apply, which waits for it to go.
        case stopping(Child)
    }

    /// What the probes found since the program started.
    struct HealthState {
        /// Nil until the first verdict: the first passing probe, or failures past the
        /// threshold once a start-up grace (interval × threshold) has passed.
        var healthy: Bool?
        var failures = 0
        var reason: String?
        var nextProbe: ContinuousClock.Instant
        var probing = false

        init(nextProbe: ContinuousClock.Instant = .now) {
            self.nextProbe = nextProbe
        }
    }

    struct PipeRegistration {
        var descriptor: Int32
        var key: ProcessKey
        var stream: OutputLine.Stream
    }

    struct State {
        var entries: [ProcessKey: Entry] = [:]
        /// Pipes of newly started programs, for the output loop to take.
        var newPipes: [PipeRegistration] = []
        var stopped = false
    }
}
