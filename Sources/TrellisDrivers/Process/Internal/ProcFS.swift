#if canImport(Glibc)
import Glibc
#endif

/// What /proc says about processes: enough to tell a live process from a zombie and a
/// process from another that was given its recycled pid.
enum ProcFS {
    /// The fields of `/proc/PID/stat` the supervisor needs.
    struct Status {
        /// `R`, `S`, `D`, `T`, `Z` (zombie), `X` (dead), …
        var state: Character
        var processGroup: pid_t
        /// When the process started, in clock ticks since boot: with the pid, an identity
        /// no later process shares.
        var startTicks: UInt64

        /// Whether the process is running (not a zombie waiting to be reaped).
        var isLive: Bool { state != "Z" && state != "X" }
    }

    /// The status of `pid`, or nil when there is no such process.
    static func status(of pid: pid_t) -> Status? {
        guard let text = readSmallFile("/proc/\(pid)/stat") else { return nil }
        // The command name is in parentheses and may itself hold spaces or parentheses.
        guard let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // After the name: state (field 3), ppid, pgrp (5), …, starttime (22).
        guard fields.count > 19, let state = fields[0].first, let group = pid_t(fields[2]),
            let start = UInt64(fields[19])
        else { return nil }
        return Status(state: state, processGroup: group, startTicks: start)
    }

    /// Whether `pid` is a live process that started at `startTicks`.
    static func isRunning(_ pid: pid_t, startedAt startTicks: UInt64) -> Bool {
        guard let status = status(of: pid) else { return false }
        return status.isLive && status.startTicks == startTicks
    }

    /// Whether any live process belongs to `group`. Zombies do not count: the group's
    /// leader may be one until it is reaped, and orphans whose new parent does not reap
    /// them stay one.
    static func groupIsLive(_ group: pid_t) -> Bool {
        // kill(-group, 0) counts zombies, so it answers only the negative.
        if kill(-group, 0) != 0 && errno == ESRCH { return false }
        guard let directory = opendir("/proc") else { return true }
        defer { closedir(directory) }
        while let entry = readdir(directory) {
            let name = withUnsafePointer(to: &entry.pointee.d_name) {
                String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))
            }
            guard let pid = pid_t(name), let status = status(of: pid) else { continue }
            if status.processGroup == group && status.isLive { return true }
        }
        return false
    }

    /// A file's contents, for the small files of /proc and the state directory.
    static func readSmallFile(_ path: String, limit: Int = 1 << 16) -> String? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while bytes.count < limit {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            bytes += buffer[..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
