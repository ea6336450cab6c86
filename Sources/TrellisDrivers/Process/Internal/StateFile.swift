import TrellisDomain

#if canImport(Glibc)
import Glibc
#endif

/// What the supervisor records about a program it started, in
/// `ENVDIR/.trellis-processes/RESOURCE.json`, so that a later agent recognises the
/// program as its own instead of starting a second copy.
struct StateFile: Hashable {
    /// The directory inside an environment's directory that holds the state files.
    static let directoryName = ".trellis-processes"

    var pid: pid_t
    /// The start time from /proc, which tells the program from a later one given its pid.
    var startTicks: UInt64
    /// `ProcessSpec.identityHash` of what it was started with.
    var identityHash: String
    /// Wall-clock start, in nanoseconds since the Unix epoch, for people reading the file.
    var startedAtNanoseconds: Int64

    /// Where the state of `resource` lives in `environmentDirectory`.
    static func path(environmentDirectory: String, resource: String) -> String {
        // Resource names are plain in practice; anything else is percent-encoded so that a
        // name can never leave the directory.
        var name = ""
        for byte in resource.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"):
                name.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                name += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return "\(environmentDirectory)/\(directoryName)/\(name).json"
    }

    /// The state at `path`, or nil when there is none or it cannot be read (a program
    /// whose state is unreadable is not recognised, which is the safe side: at worst it
    /// runs twice, never is it killed by mistake).
    static func read(_ path: String) -> StateFile? {
        guard let text = ProcFS.readSmallFile(path),
            let value = try? SpecDecoder().values(Array(text.utf8), file: path).first,
            let map = value.mapValue,
            let pid = map["pid"]?.intValue, pid > 0,
            let ticks = map["startTicks"]?.stringValue.flatMap({ UInt64($0) }),
            let hash = map["specHash"]?.stringValue
        else { return nil }
        let started = map["startedAt"]?.intValue ?? 0
        return StateFile(
            pid: pid_t(pid), startTicks: ticks, identityHash: hash, startedAtNanoseconds: Int64(started))
    }

    /// Writes the state to `path` atomically (a temporary file renamed over it), creating
    /// the state directory when needed.
    func write(to path: String) throws(ProcessSystemError) {
        let directory = String(path[..<path.lastIndex(of: "/")!])
        if mkdir(directory, 0o700) != 0 && errno != EEXIST { throw ProcessSystemError("mkdir \(directory)") }
        let map: SpecMap = [
            "pid": .int(Int(pid)),
            // A string: start ticks are unsigned 64-bit.
            "startTicks": .string(String(startTicks)),
            "specHash": .string(identityHash),
            "startedAt": .int(Int(startedAtNanoseconds)),
        ]
        let bytes = Array((map.canonicalJSON + "\n").utf8)
        let temporary = path + ".tmp"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw ProcessSystemError("open \(temporary)") }
        var written = 0
        while written < bytes.count {
            let count = bytes[written...].withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else {
                let error = ProcessSystemError("write \(temporary)")
                close(descriptor)
                throw error
            }
            written += count
        }
        close(descriptor)
        guard rename(temporary, path) == 0 else { throw ProcessSystemError("rename \(temporary)") }
    }

    /// Removes the state at `path`; a missing file is not an error.
    static func remove(_ path: String) throws(ProcessSystemError) {
        if unlink(path) != 0 && errno != ENOENT { throw ProcessSystemError("unlink \(path)") }
    }
}

/// Resolves a working directory inside an environment's directory, refusing any
/// component that is a symlink or not a directory, so the program cannot be led outside.
enum WorkingDirectory {
    static func resolve(_ relative: String?, in environmentDirectory: String) throws(DriverError) -> String {
        var path = environmentDirectory
        for component in (relative ?? "").split(separator: "/") where component != "." {
            guard component != ".." else {
                throw DriverError("process: params.workingDir must stay inside the environment's directory")
            }
            path += "/" + component
            var info = stat()
            guard lstat(path, &info) == 0 else {
                throw DriverError(
                    "process: working directory \(relative ?? "") does not exist in the environment's directory",
                    retryable: true)
            }
            if info.st_mode & S_IFMT == S_IFLNK {
                throw DriverError("process: params.workingDir must not pass through a symlink (\(component))")
            }
            guard info.st_mode & S_IFMT == S_IFDIR else {
                throw DriverError("process: params.workingDir \(relative ?? "") is not a directory")
            }
        }
        return path
    }
}
