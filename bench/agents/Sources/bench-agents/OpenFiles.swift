#if canImport(Glibc)
import Glibc
#endif

/// The open-file limit (RLIMIT_NOFILE): every simulated agent holds one socket.
enum OpenFiles {
    /// Raises the soft limit to the hard limit; returns both, as they are afterwards.
    static func raiseToHardLimit() throws -> (soft: Int, hard: Int) {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else {
            throw BenchError("bench-agents: getrlimit(RLIMIT_NOFILE) failed: \(String(cString: strerror(errno)))")
        }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            guard setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 else {
                throw BenchError(
                    "bench-agents: setrlimit(RLIMIT_NOFILE, \(limit.rlim_max)) failed: \(String(cString: strerror(errno)))"
                )
            }
            limit = raised
        }
        return (Int(clamping: limit.rlim_cur), Int(clamping: limit.rlim_max))
    }

    /// Descriptors the tool needs for `agents` connections: one each, and some to spare
    /// for the event loops, stdio and the files it reads.
    static func needed(agents: Int) -> Int { agents + 64 }
}
