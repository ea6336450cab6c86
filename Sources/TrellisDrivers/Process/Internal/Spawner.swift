#if canImport(Glibc)
import Glibc
#endif

/// Starts programs with posix_spawn, which is safe where fork is not (a Swift process
/// has many threads and locks a forked child could inherit held).
///
/// Every program starts in a process group of its own, so that it and everything it
/// started can be signalled together; with stdin on /dev/null; with the signal mask
/// cleared and every signal's disposition reset to the default.
enum Spawner {
    /// A started program and, when its output is captured, the read ends of its pipes.
    struct Spawned {
        var pid: pid_t
        var stdout: Int32?
        var stderr: Int32?
        /// For a program started held: the write end of its hold pipe. ``release(_:)``
        /// lets it run; closing it (or the parent dying) without that ends it unrun.
        var hold: Int32?
    }

    /// The shell that applies resource limits before it becomes the program. The argv
    /// travels as separate arguments (`"$@"`); only numbers are written into the script.
    static let shell = "/bin/sh"

    /// Starts `argv` in `directory` (absolute) with exactly `environment` (`NAME=value`).
    ///
    /// The program is looked up on the `PATH` of `environment` unless it names a path.
    /// With `captureOutput`, stdout and stderr are pipes whose read ends are returned;
    /// otherwise both go to /dev/null. With `held`, the process waits in the shell until
    /// ``release(_:)`` before it becomes the program, and ends unrun if the hold pipe
    /// closes first: a caller that records the process before releasing it (the
    /// supervisor's state file) never leaves behind a program it did not record.
    static func spawn(
        argv: [String], environment: [String], directory: String, limits: ProcessSpec.Limits, captureOutput: Bool,
        held: Bool = false
    ) throws(DriverError) -> Spawned {
        precondition(!argv.isEmpty, "an argv names a program")
        let program = try resolve(argv[0], environment: environment, directory: directory)
        var arguments = argv
        arguments[0] = program
        var path = program
        if !limits.isEmpty || held {
            // Descriptor 3 is the hold pipe's read end; it is closed before the program runs.
            var steps: [String] = held ? ["read -r _ <&3", "exec 3<&-"] : []
            if let openFiles = limits.openFiles { steps.append("ulimit -n \(openFiles)") }
            // ulimit -v counts KiB.
            if let bytes = limits.memoryBytes { steps.append("ulimit -v \(bytes / 1024)") }
            if let seconds = limits.cpuSeconds { steps.append("ulimit -t \(seconds)") }
            let script = (steps + ["exec \"$@\""]).joined(separator: " && ")
            arguments = [shell, "-c", script, argv[0]] + [program] + argv.dropFirst()
            path = shell
        }

        do {
            return try spawn(
                path: path, arguments: arguments, environment: environment, directory: directory,
                captureOutput: captureOutput, held: held)
        } catch {
            throw DriverError("process: starting \(argv[0]): \(error)", retryable: true)
        }
    }

    /// An absolute or directory-relative path for `name`, searched on `PATH` when it has
    /// no slash.
    private static func resolve(
        _ name: String, environment: [String], directory: String
    ) throws(DriverError)
        -> String
    {
        if name.contains("/") {
            let path = name.hasPrefix("/") ? name : directory + "/" + name
            guard access(path, X_OK) == 0 else {
                throw DriverError("process: \(name) is not an executable file in \(directory)")
            }
            return path
        }
        let search =
            environment.last { $0.hasPrefix("PATH=") }.map { String($0.dropFirst(5)) }
            ?? "/usr/local/bin:/usr/bin:/bin"
        for entry in search.split(separator: ":") where !entry.isEmpty {
            let base = entry.hasPrefix("/") ? String(entry) : directory + "/" + entry
            let candidate = base + "/" + name
            var info = stat()
            if access(candidate, X_OK) == 0, stat(candidate, &info) == 0, info.st_mode & S_IFMT != S_IFDIR {
                return candidate
            }
        }
        throw DriverError("process: \(name) was not found on PATH (\(search))")
    }

    /// Lets a program started held run; a program that already ended is left alone.
    static func release(_ spawned: Spawned) {
        guard let hold = spawned.hold else { return }
        // A write to the hold pipe of a program that died reports EPIPE.
        _ = ProgramRunner.ignoreBrokenPipes
        var line: [UInt8] = Array("go\n".utf8)
        _ = write(hold, &line, line.count)
        close(hold)
    }

    private static func spawn(
        path: String, arguments: [String], environment: [String], directory: String, captureOutput: Bool,
        held: Bool
    ) throws(ProcessSystemError) -> Spawned {
        var actions = posix_spawn_file_actions_t()
        var attributes = posix_spawnattr_t()
        try check("posix_spawn_file_actions_init", posix_spawn_file_actions_init(&actions))
        defer { posix_spawn_file_actions_destroy(&actions) }
        try check("posix_spawnattr_init", posix_spawnattr_init(&attributes))
        defer { posix_spawnattr_destroy(&attributes) }

        var stdout: (read: Int32, write: Int32)?
        var stderr: (read: Int32, write: Int32)?
        var hold: (read: Int32, write: Int32)?
        // Until the spawn succeeds, every pipe end is the parent's to close.
        var handedOver = false
        defer {
            for end in [stdout?.write, stderr?.write, hold?.read].compactMap({ $0 }) { close(end) }
            if !handedOver {
                for end in [stdout?.read, stderr?.read, hold?.write].compactMap({ $0 }) { close(end) }
            }
        }

        try check(
            "posix_spawn_file_actions_addopen",
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0))
        if captureOutput {
            stdout = try outputPipe()
            stderr = try outputPipe()
            try check("posix_spawn_file_actions_adddup2", posix_spawn_file_actions_adddup2(&actions, stdout!.write, 1))
            try check("posix_spawn_file_actions_adddup2", posix_spawn_file_actions_adddup2(&actions, stderr!.write, 2))
        } else {
            for descriptor: Int32 in [1, 2] {
                try check(
                    "posix_spawn_file_actions_addopen",
                    posix_spawn_file_actions_addopen(&actions, descriptor, "/dev/null", O_WRONLY, 0))
            }
        }
        if held {
            hold = try holdPipe()
            try check("posix_spawn_file_actions_adddup2", posix_spawn_file_actions_adddup2(&actions, hold!.read, 3))
        }
        try check("posix_spawn_file_actions_addchdir_np", GNUExtensions.addChdir(&actions, directory))
        // The program gets 0, 1 and 2 and nothing else, even a descriptor some library
        // of the agent opened without close-on-exec (the shell holding it also gets 3).
        try check(
            "posix_spawn_file_actions_addclosefrom_np", GNUExtensions.addCloseFrom(&actions, held ? 4 : 3))

        var noSignals = sigset_t()
        var allSignals = sigset_t()
        sigemptyset(&noSignals)
        sigfillset(&allSignals)
        try check("posix_spawnattr_setsigmask", posix_spawnattr_setsigmask(&attributes, &noSignals))
        try check("posix_spawnattr_setsigdefault", posix_spawnattr_setsigdefault(&attributes, &allSignals))
        try check("posix_spawnattr_setpgroup", posix_spawnattr_setpgroup(&attributes, 0))
        let flags = POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF
        try check("posix_spawnattr_setflags", posix_spawnattr_setflags(&attributes, Int16(flags)))

        let argv = arguments.map { strdup($0) }
        let envp = environment.map { strdup($0) }
        defer {
            for pointer in argv + envp { free(pointer) }
        }
        var pid: pid_t = 0
        let result = (argv + [nil]).withUnsafeBufferPointer { argvBuffer in
            (envp + [nil]).withUnsafeBufferPointer { envpBuffer in
                posix_spawn(&pid, path, &actions, &attributes, argvBuffer.baseAddress!, envpBuffer.baseAddress!)
            }
        }
        try check("posix_spawn", result)
        handedOver = true
        return Spawned(pid: pid, stdout: stdout?.read, stderr: stderr?.read, hold: hold?.write)
    }

    /// A close-on-exec pipe for a program's output; the parent's read end is non-blocking.
    private static func outputPipe() throws(ProcessSystemError) -> (read: Int32, write: Int32) {
        do {
            return try makePipe(nonBlocking: .read)
        } catch {
            throw ProcessSystemError(error.function, errorNumber: error.errno)
        }
    }

    /// A close-on-exec pipe whose ends both block: the held shell waits on its read end.
    private static func holdPipe() throws(ProcessSystemError) -> (read: Int32, write: Int32) {
        do {
            return try makePipe()
        } catch {
            throw ProcessSystemError(error.function, errorNumber: error.errno)
        }
    }

    /// posix_spawn functions return their error number rather than set errno.
    private static func check(_ function: String, _ result: Int32) throws(ProcessSystemError) {
        guard result == 0 else { throw ProcessSystemError(function, errorNumber: result) }
    }
}
