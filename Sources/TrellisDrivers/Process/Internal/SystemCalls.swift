#if canImport(Glibc)
import Glibc
#endif

/// Small wrappers over system calls for the supervisor's threads. (The GNU functions
/// the Glibc module leaves out are in ``GNUExtensions``.)
enum SystemCalls {
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
