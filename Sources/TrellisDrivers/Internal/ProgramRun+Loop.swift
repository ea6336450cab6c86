import Glibc

extension ProgramRunner {
    /// Lines of stderr kept for error messages, and the longest line kept whole.
    static let errorTailLines = 10
    static let maximumLineLength = 4096
    /// How long to keep reading after the program exits while a descendant holds its
    /// stdout or stderr open.
    static let drainAfterExit: Int64 = 500_000_000
    /// How often the loop checks for the program's exit while its pipes stay open.
    static let exitCheckInterval: Int32 = 20

    /// Spawns the program and drives its pipes until it exits; runs on its own thread.
    static func runBlocking(
        _ invocation: ProgramInvocation, cancel: CancelPipe
    ) throws(SystemCallError) -> ProgramResult {
        let stdinPipe = try makePipe(nonBlocking: .write)
        let stdoutPipe: (read: Int32, write: Int32)
        let stderrPipe: (read: Int32, write: Int32)
        do {
            stdoutPipe = try makePipe(nonBlocking: .read)
        } catch {
            close(stdinPipe.read)
            close(stdinPipe.write)
            throw error
        }
        do {
            stderrPipe = try makePipe(nonBlocking: .read)
        } catch {
            [stdinPipe.read, stdinPipe.write, stdoutPipe.read, stdoutPipe.write].forEach { _ = close($0) }
            throw error
        }

        let spawned = spawn(invocation, stdin: stdinPipe.read, stdout: stdoutPipe.write, stderr: stderrPipe.write)
        // The child has its copies; the parent keeps only its own ends.
        [stdinPipe.read, stdoutPipe.write, stderrPipe.write].forEach { _ = close($0) }
        let pid: pid_t
        switch spawned {
        case .success(let child): pid = child
        case .failure(let error):
            [stdinPipe.write, stdoutPipe.read, stderrPipe.read].forEach { _ = close($0) }
            throw error
        }

        var loop = PipeLoop(
            invocation: invocation, pid: pid, input: stdinPipe.write, output: stdoutPipe.read,
            errors: stderrPipe.read, cancel: cancel.readEnd)
        return loop.run()
    }

    private static func spawn(
        _ invocation: ProgramInvocation, stdin: Int32, stdout: Int32, stderr: Int32
    ) -> Result<pid_t, SystemCallError> {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }

        var code = posix_spawn_file_actions_adddup2(&actions, stdin, 0)
        if code == 0 { code = posix_spawn_file_actions_adddup2(&actions, stdout, 1) }
        if code == 0 { code = posix_spawn_file_actions_adddup2(&actions, stderr, 2) }
        if code == 0 { code = GNUExtensions.addCloseFrom(&actions, 3) }
        guard code == 0 else { return .failure(SystemCallError(function: "posix_spawn_file_actions", errno: code)) }
        code = GNUExtensions.addChdir(&actions, invocation.workingDirectory)
        guard code == 0 else {
            return .failure(SystemCallError(function: "posix_spawn_file_actions_addchdir_np", errno: code))
        }

        var allSignals = sigset_t()
        sigfillset(&allSignals)
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(
            &attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let argv = invocation.arguments.map { strdup($0) } + [nil]
        let envp = invocation.environment.map { strdup($0) } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        // A program written a moment ago can still be open for writing in a child that
        // another thread is starting (it holds a copy of the writer's descriptor until its
        // own exec): for that instant the kernel refuses to run the file (ETXTBSY). That
        // passes by itself, so the spawn is tried again for up to about a second; this runs
        // on the program's own thread.
        for attempt in 1...20 {
            code = posix_spawn(&pid, invocation.executable, &actions, &attributes, argv, envp)
            guard code == ETXTBSY, attempt < 20 else { break }
            SystemCalls.sleep(.milliseconds(min(5 * attempt, 100)))
        }
        guard code == 0 else { return .failure(SystemCallError(function: "posix_spawn", errno: code)) }
        return .success(pid)
    }
}

/// The state of one run's pipes, driven by `poll` on the run's thread.
private struct PipeLoop {
    let invocation: ProgramInvocation
    let pid: pid_t
    var input: Int32
    var output: Int32
    var errors: Int32
    let cancel: Int32

    var inputOffset = 0
    var result = ProgramResult(termination: .exited(0))
    var partialLine: [UInt8] = []
    var exitStatus: Int32?
    var exitedAt: Int64?
    var termSentAt: Int64?
    var killed = false

    init(invocation: ProgramInvocation, pid: pid_t, input: Int32, output: Int32, errors: Int32, cancel: Int32) {
        self.invocation = invocation
        self.pid = pid
        self.input = input
        self.output = output
        self.errors = errors
        self.cancel = cancel
    }

    mutating func run() -> ProgramResult {
        let start = monotonicNanoseconds()
        let timeout = invocation.timeout.components
        let deadline = start + Int64(timeout.seconds) * 1_000_000_000 + Int64(timeout.attoseconds / 1_000_000_000)
        let grace = invocation.killGrace.components
        let graceNanoseconds = Int64(grace.seconds) * 1_000_000_000 + Int64(grace.attoseconds / 1_000_000_000)
        if invocation.input.isEmpty { closeInput() }

        while true {
            reapIfExited()
            let now = monotonicNanoseconds()
            if let exitedAt, (output < 0 && errors < 0) || now - exitedAt > ProgramRunner.drainAfterExit { break }
            if exitStatus == nil {
                if termSentAt == nil && now >= deadline {
                    result.timedOut = true
                    terminate(now)
                } else if let termSentAt, !killed, now - termSentAt >= graceNanoseconds {
                    _ = kill(-pid, SIGKILL)
                    killed = true
                }
            }

            var descriptors: [pollfd] = []
            if input >= 0 { descriptors.append(pollfd(fd: input, events: Int16(POLLOUT), revents: 0)) }
            if output >= 0 { descriptors.append(pollfd(fd: output, events: Int16(POLLIN), revents: 0)) }
            if errors >= 0 { descriptors.append(pollfd(fd: errors, events: Int16(POLLIN), revents: 0)) }
            if termSentAt == nil { descriptors.append(pollfd(fd: cancel, events: Int16(POLLIN), revents: 0)) }
            var wait = ProgramRunner.exitCheckInterval
            if termSentAt == nil && exitStatus == nil {
                wait = Int32(max(0, min(Int64(wait), (deadline - now) / 1_000_000)))
            }
            let ready = poll(&descriptors, nfds_t(descriptors.count), wait)
            guard ready > 0 else { continue }

            for descriptor in descriptors where descriptor.revents != 0 {
                switch descriptor.fd {
                case input: writeInput()
                case output: readOutput()
                case errors: readErrors()
                case cancel:
                    result.cancelled = true
                    terminate(monotonicNanoseconds())
                default: break
                }
            }
        }

        closeInput()
        if output >= 0 { close(output) }
        if errors >= 0 { close(errors) }
        if !partialLine.isEmpty { emitLine(partialLine) }
        if exitStatus == nil {
            // Only a descendant kept the pipes open; the program itself is reaped below.
            var status: Int32 = 0
            _ = retryingInterrupts { waitpid(pid, &status, 0) }
            exitStatus = status
        }
        result.termination = Self.termination(exitStatus!)
        return result
    }

    private mutating func terminate(_ now: Int64) {
        termSentAt = now
        _ = kill(-pid, SIGTERM)
    }

    private mutating func reapIfExited() {
        guard exitStatus == nil else { return }
        var status: Int32 = 0
        if retryingInterrupts({ waitpid(pid, &status, WNOHANG) }) == pid {
            exitStatus = status
            exitedAt = monotonicNanoseconds()
            if termSentAt != nil {
                // What the program started goes with it once a timeout or cancel ended it.
                _ = kill(-pid, SIGKILL)
            }
        }
    }

    private static func termination(_ status: Int32) -> ProgramResult.Termination {
        let signal = status & 0x7f
        return signal == 0 ? .exited((status >> 8) & 0xff) : .signalled(signal)
    }

    private mutating func closeInput() {
        if input >= 0 {
            close(input)
            input = -1
        }
    }

    private mutating func writeInput() {
        let written = invocation.input.withUnsafeBytes { buffer in
            write(input, buffer.baseAddress! + inputOffset, buffer.count - inputOffset)
        }
        if written < 0 {
            if errno == EAGAIN || errno == EINTR { return }
            // EPIPE: the program does not read its stdin, which is its business.
            closeInput()
            return
        }
        inputOffset += written
        if inputOffset == invocation.input.count { closeInput() }
    }

    /// Reads what is there; nil at end of file (or an error, treated alike).
    private func readAvailable(_ descriptor: Int32) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        if count < 0 && (errno == EAGAIN || errno == EINTR) { return [] }
        guard count > 0 else { return nil }
        return Array(buffer[..<count])
    }

    private mutating func readOutput() {
        guard let bytes = readAvailable(output) else {
            close(output)
            output = -1
            return
        }
        let room = invocation.outputLimit - result.output.count
        if bytes.count > room { result.outputTruncated = true }
        result.output += bytes.prefix(max(0, room))
    }

    private mutating func readErrors() {
        guard let bytes = readAvailable(errors) else {
            close(errors)
            errors = -1
            return
        }
        for byte in bytes {
            if byte == UInt8(ascii: "\n") {
                emitLine(partialLine)
                partialLine.removeAll(keepingCapacity: true)
            } else if partialLine.count < ProgramRunner.maximumLineLength {
                partialLine.append(byte)
            }
        }
    }

    private mutating func emitLine(_ bytes: [UInt8]) {
        var line = String(decoding: bytes, as: UTF8.self)
        if line.hasSuffix("\r") { line.removeLast() }
        invocation.onStderrLine(line)
        result.errorTail.append(line)
        if result.errorTail.count > ProgramRunner.errorTailLines { result.errorTail.removeFirst() }
    }
}
