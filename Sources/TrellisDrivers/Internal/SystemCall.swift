import Glibc

/// The text of a failed C call, for error messages: `openat: No such file or directory
/// (errno 2)`.
func systemCallFailure(_ function: String, errno code: Int32) -> String {
    "\(function): \(String(cString: strerror(code))) (errno \(code))"
}

/// Retries a system call interrupted by a signal.
func retryingInterrupts(_ call: () -> Int32) -> Int32 {
    while true {
        let result = call()
        if result == -1 && errno == EINTR { continue }
        return result
    }
}

/// An open file descriptor, closed when the last reference goes.
///
/// Used by one task at a time; the descriptor itself is only an integer, and closing it
/// happens once, in `deinit`.
final class OwnedDescriptor {
    let raw: Int32

    init(_ raw: Int32) {
        precondition(raw >= 0, "OwnedDescriptor needs an open descriptor")
        self.raw = raw
    }

    deinit {
        _ = close(raw)
    }
}

/// The current wall-clock time in nanoseconds since the Unix epoch.
func wallClockNanoseconds() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
}

/// Nanoseconds on a clock that never goes back, for deadlines.
func monotonicNanoseconds() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
}
