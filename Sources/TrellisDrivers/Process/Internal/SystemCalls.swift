#if canImport(Glibc)
import Glibc
#endif

/// C functions and macros that Glibc's Swift module leaves out, and small wrappers over
/// the ones it has.
enum SystemCalls {
    private typealias Pipe2 = @convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Int32
    private typealias AddChdir =
        @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32

    // `pipe2` and `posix_spawn_file_actions_addchdir_np` are declared only under
    // _GNU_SOURCE, which the Glibc module is not built with; glibc (2.29 and later) has
    // both, so they are looked up once by name.
    private static let pipe2Function: Pipe2? = symbol("pipe2")
    private static let addChdirFunction: AddChdir? = symbol(
        "posix_spawn_file_actions_addchdir_np")

    private static func symbol<Function>(_ name: String) -> Function? {
        guard let handle = dlopen(nil, RTLD_NOW), let address = dlsym(handle, name) else { return nil }
        return unsafeBitCast(address, to: Function.self)
    }

    /// The error number of the last failed call on this thread.
    static var errorNumber: Int32 { errno }

    /// A pipe whose ends are close-on-exec from the start, so that no other program
    /// spawned concurrently inherits them; the read end is non-blocking.
    static func makePipe() throws(ProcessSystemError) -> (read: Int32, write: Int32) {
        var fds: [Int32] = [-1, -1]
        if let pipe2Function {
            guard pipe2Function(&fds, O_CLOEXEC) == 0 else { throw ProcessSystemError("pipe2") }
        } else {
            // Without pipe2 the ends are briefly inheritable; glibc has had it since 2.9.
            guard pipe(&fds) == 0 else { throw ProcessSystemError("pipe") }
            _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
            _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        }
        let flags = fcntl(fds[0], F_GETFL)
        guard flags >= 0, fcntl(fds[0], F_SETFL, flags | O_NONBLOCK) == 0 else {
            let error = ProcessSystemError("fcntl")
            close(fds[0])
            close(fds[1])
            throw error
        }
        return (fds[0], fds[1])
    }

    /// Adds a change of directory to `actions`; fails with ENOSYS where glibc lacks it.
    static func addChdir(_ actions: inout posix_spawn_file_actions_t, _ path: String) -> Int32 {
        guard let addChdirFunction else { return ENOSYS }
        return addChdirFunction(&actions, path)
    }

    /// Wall-clock time in nanoseconds since the Unix epoch.
    static func wallClockNanoseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
    }

    /// Sleeps the calling thread; only for the supervisor's own threads.
    static func sleep(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        var request = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0 && errno == EINTR {
            request = remaining
        }
    }

    /// Milliseconds in `duration`, rounded up and clamped for poll(2).
    static func pollMilliseconds(_ duration: Duration) -> Int32 {
        if duration <= .zero { return 0 }
        let (seconds, attoseconds) = duration.components
        let milliseconds = seconds * 1_000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return Int32(clamping: milliseconds)
    }
}

/// A failed system call: its name and errno.
struct ProcessSystemError: Error, CustomStringConvertible {
    var function: String
    var errorNumber: Int32

    /// The failure of `function`, with the calling thread's errno (or a given one).
    init(_ function: String, errorNumber: Int32 = errno) {
        self.function = function
        self.errorNumber = errorNumber
    }

    var description: String { "\(function) failed: \(String(cString: strerror(errorNumber)))" }
}

/// How a program ended.
public enum ExitStatus: Sendable, Hashable, CustomStringConvertible {
    /// It exited with a status code.
    case exited(Int32)
    /// A signal ended it.
    case signalled(Int32)
    /// It was started by an earlier agent, which alone could have collected its status.
    case unknown
    /// It could not be started at all.
    case failedToStart(String)

    /// Decodes a wait(2) status.
    init(waitStatus status: Int32) {
        // WIFEXITED, WEXITSTATUS and WTERMSIG are macros Swift does not import.
        let signal = status & 0x7f
        self = signal == 0 ? .exited((status >> 8) & 0xff) : .signalled(signal)
    }

    /// Whether the program failed, as the on-failure restart policy sees it.
    var isFailure: Bool { self != .exited(0) }

    public var description: String {
        switch self {
        case .exited(let code): "exited with status \(code)"
        case .signalled(let signal): "was killed by signal \(signal)"
        case .unknown: "exited (it was started by an earlier agent, so its status is unknown)"
        case .failedToStart(let reason): "could not start: \(reason)"
        }
    }
}
