import Synchronization

#if canImport(Glibc)
import Glibc
#endif

// The supervisor's own threads: one reads output, reaps and restarts; one probes health.
extension ProcessSupervisor {
    private struct Reader {
        var key: ProcessKey
        var stream: OutputLine.Stream
        var splitter = LineSplitter()
    }

    /// Reads the programs' pipes, reaps exited programs and restarts them when due, until
    /// `shutdown()`. Runs on its own thread.
    func runOutputLoop() {
        var readers: [Int32: Reader] = [:]
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let (pipes, stopped) = state.withLock { state in
                defer { state.newPipes.removeAll() }
                return (state.newPipes, state.stopped)
            }
            for pipe in pipes {
                readers[pipe.descriptor] = Reader(key: pipe.key, stream: pipe.stream)
            }
            if stopped {
                for descriptor in readers.keys { close(descriptor) }
                return
            }

            // Exits and restart deadlines are checked at least this often.
            var descriptors = [pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
            descriptors += readers.keys.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            let ready = poll(&descriptors, nfds_t(descriptors.count), 50)
            if ready > 0 {
                if descriptors[0].revents != 0 {
                    while read(wakeRead, &buffer, buffer.count) > 0 {}
                }
                for entry in descriptors.dropFirst() where entry.revents != 0 {
                    if !drain(entry.fd, &readers[entry.fd]!, buffer: &buffer) {
                        close(entry.fd)
                        readers[entry.fd] = nil
                    }
                }
            }
            reap()
            restartDue()
        }
    }

    /// Reads what `descriptor` holds and passes on the complete lines; false at the end
    /// of the stream.
    private func drain(_ descriptor: Int32, _ reader: inout Reader, buffer: inout [UInt8]) -> Bool {
        var lines: [String] = []
        var open = true
        // Bounded, so that one chatty program cannot starve the others' pipes.
        for _ in 0..<16 {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count > 0 {
                lines += reader.splitter.append(buffer[..<count])
                continue
            }
            if count < 0 && (errno == EAGAIN || errno == EINTR) { break }
            lines += reader.splitter.finish()
            open = false
            break
        }
        guard !lines.isEmpty else { return open }
        let key = reader.key
        let sink = state.withLock { $0.entries[key]?.launch.sink }
        if let sink {
            let timestamp = wallClockNanoseconds()
            for text in lines {
                output.enqueue(
                    OutputLine(
                        environment: key.environment, resource: key.resource, stream: reader.stream,
                        timestampNanoseconds: timestamp, text: text),
                    to: sink)
            }
        }
        return open
    }

    /// Collects programs that exited and decides, by their policy, what comes next.
    private func reap() {
        let watched = state.withLock { state in
            state.entries.compactMap { key, entry -> (ProcessKey, Child)? in
                switch entry.phase {
                case .running(let child), .stopping(let child): (key, child)
                default: nil
                }
            }
        }
        var exits: [(ProcessKey, Child, ExitStatus)] = []
        for (key, child) in watched {
            if child.adopted {
                if !ProcFS.isRunning(child.pid, startedAt: child.startTicks) { exits.append((key, child, .unknown)) }
                continue
            }
            var status: Int32 = 0
            let result = waitpid(child.pid, &status, WNOHANG)
            if result == child.pid {
                exits.append((key, child, ExitStatus(waitStatus: status)))
            } else if result < 0 && errno == ECHILD {
                exits.append((key, child, .unknown))
            }
        }
        guard !exits.isEmpty else { return }

        let now = ContinuousClock.now
        let changes = state.withLock { state in
            exits.compactMap { key, child, status in
                handleExit(of: child, key, status: status, at: now, in: &state)
            }
        }
        for change in changes { healthContinuation.yield(change) }
    }

    /// Moves an exited program on: exited when it was being stopped or its policy says
    /// so, otherwise waiting out its backoff. Returns the health change its exit is.
    private func handleExit(
        of child: Child, _ key: ProcessKey, status: ExitStatus, at now: ContinuousClock.Instant, in state: inout State
    ) -> HealthChange? {
        guard var entry = state.entries[key] else { return nil }
        var stopping = false
        switch entry.phase {
        case .running(let current) where current == child: break
        case .stopping(let current) where current == child: stopping = true
        default: return nil
        }
        defer { state.entries[key] = entry }

        var change: HealthChange?
        if entry.health.healthy == true {
            change = HealthChange(
                environment: key.environment, resource: key.resource, pid: child.pid, healthy: false,
                reason: "process \(status)")
        }
        entry.health = HealthState()

        let restarts: Bool
        switch entry.launch.spec.restart {
        case .always: restarts = !stopping
        case .onFailure: restarts = !stopping && status.isFailure
        case .never: restarts = false
        }
        guard restarts else {
            entry.phase = .exited(status)
            return change
        }
        if now - child.startedAt >= configuration.backoffReset {
            entry.backoff = configuration.initialBackoff
        }
        entry.phase = .waitingToRestart(at: now + entry.backoff, after: status)
        entry.backoff = min(entry.backoff * 2, configuration.maximumBackoff)
        return change
    }

    /// Starts again the programs whose backoff has passed.
    private func restartDue() {
        let now = ContinuousClock.now
        let due = state.withLock { state in
            var due: [(ProcessKey, Launch)] = []
            for (key, entry) in state.entries {
                if case .waitingToRestart(let time, _) = entry.phase, time <= now {
                    state.entries[key]!.phase = .starting
                    due.append((key, entry.launch))
                }
            }
            return due
        }
        for (key, launch) in due {
            do {
                let child = try start(key, launch)
                state.withLock { state in
                    guard case .starting = state.entries[key]?.phase else { return }
                    state.entries[key]!.phase = .running(child)
                    state.entries[key]!.identityHash = launch.spec.identityHash
                    state.entries[key]!.health = HealthState()
                }
            } catch {
                state.withLock { state in
                    guard var entry = state.entries[key], case .starting = entry.phase else { return }
                    entry.phase = .waitingToRestart(at: .now + entry.backoff, after: .failedToStart(error.message))
                    entry.backoff = min(entry.backoff * 2, configuration.maximumBackoff)
                    state.entries[key] = entry
                }
            }
        }
    }

    /// Probes the running programs that have health checks, each on its interval, until
    /// `shutdown()`. Runs on its own thread; probes run one at a time, each within its
    /// timeout.
    func runProbes() {
        struct Due {
            var key: ProcessKey
            var pid: pid_t
            var probe: HealthProbe
        }
        while true {
            let now = ContinuousClock.now
            let (due, stopped) = state.withLock { state -> ([Due], Bool) in
                var due: [Due] = []
                for (key, entry) in state.entries {
                    guard case .running(let child) = entry.phase, let health = entry.launch.spec.health,
                        !entry.health.probing, entry.health.nextProbe <= now
                    else { continue }
                    state.entries[key]!.health.probing = true
                    let probe = HealthProbe(
                        check: health.check, timeout: health.timeout, directory: entry.launch.directory,
                        environment: entry.launch.environment)
                    due.append(Due(key: key, pid: child.pid, probe: probe))
                }
                return (due, state.stopped)
            }
            if stopped { return }
            if due.isEmpty {
                SystemCalls.sleep(.milliseconds(20))
                continue
            }
            for item in due {
                let failure = item.probe.run()
                let change = state.withLock { state in
                    record(failure, for: item.key, pid: item.pid, in: &state)
                }
                if let change { healthContinuation.yield(change) }
            }
        }
    }

    /// Counts a probe's result; returns the health change it makes, if any.
    private func record(_ failure: String?, for key: ProcessKey, pid: pid_t, in state: inout State) -> HealthChange? {
        guard var entry = state.entries[key], case .running(let child) = entry.phase, child.pid == pid,
            let health = entry.launch.spec.health
        else {
            state.entries[key]?.health.probing = false
            return nil
        }
        defer { state.entries[key] = entry }
        let now = ContinuousClock.now
        entry.health.probing = false

        var change: HealthChange?
        if let failure {
            entry.health.failures += 1
            entry.health.reason = failure
            // A program just started gets interval × threshold before failures count.
            let pastGrace = entry.health.healthy == true || now - child.startedAt >= health.interval * health.threshold
            if entry.health.healthy != false && entry.health.failures >= health.threshold && pastGrace {
                entry.health.healthy = false
                change = HealthChange(
                    environment: key.environment, resource: key.resource, pid: pid, healthy: false, reason: failure)
            }
        } else {
            entry.health.failures = 0
            entry.health.reason = nil
            if entry.health.healthy != true {
                entry.health.healthy = true
                change = HealthChange(
                    environment: key.environment, resource: key.resource, pid: pid, healthy: true, reason: nil)
            }
        }
        // Until the first verdict, probe often so that apply returns soon after health.
        let interval = entry.health.healthy == nil ? min(health.interval, .milliseconds(250)) : health.interval
        entry.health.nextProbe = now + interval
        return change
    }
}
