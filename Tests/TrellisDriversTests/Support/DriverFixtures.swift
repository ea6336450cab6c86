import Glibc
import Synchronization
import TrellisDomain
import TrellisDrivers

/// A fresh temporary directory for one test, removed with everything in it on `remove()`.
struct TemporaryDirectory {
    let path: String

    init() {
        var template = Array("/tmp/trellis-drivers-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed: errno \(errno)")
        path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    /// The environment directory tests hand to drivers: inside, not yet created.
    var environment: String { path + "/env" }

    func remove() {
        _ = run(["/bin/rm", "-rf", path])
    }
}

/// A request for `resource` of `type` in environment `e`.
func driverRequest(
    _ type: String, _ params: SpecMap, in directory: String?, resource: String = "r", output: (any OutputSink)? = nil
) -> DriverRequest {
    DriverRequest(
        environment: "e", resource: resource, type: type, params: params, attempt: 1, requestID: "e/\(resource)",
        environmentDirectory: directory, output: output)
}

/// Keeps every line it is given.
final class CollectingSink: OutputSink {
    private let collected = Mutex<[OutputLine]>([])

    func write(_ line: OutputLine) {
        collected.withLock { $0.append(line) }
    }

    var lines: [OutputLine] { collected.withLock { $0 } }
}

/// The status of `path` without following a symlink, or nil.
func fileStatus(_ path: String) -> stat? {
    var status = stat()
    return lstat(path, &status) == 0 ? status : nil
}

/// The contents of `path` as text, or nil.
func readText(_ path: String) -> String? {
    guard let file = fopen(path, "rbe") else { return nil }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let count = fread(&buffer, 1, buffer.count, file)
        if count <= 0 { break }
        bytes += buffer[..<count]
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// Writes `text` to `path`, replacing it, and sets `mode`.
func writeText(_ text: String, to path: String, mode: mode_t = 0o644) {
    let file = fopen(path, "wbe")!
    _ = Array(text.utf8).withUnsafeBufferPointer { fwrite($0.baseAddress, 1, $0.count, file) }
    fclose(file)
    chmod(path, mode)
}

/// Runs `argv` to completion (for test setup), returning its exit status.
@discardableResult
func run(_ argv: [String]) -> Int32 {
    var pid: pid_t = 0
    let arguments = argv.map { strdup($0) } + [nil]
    defer { arguments.forEach { free($0) } }
    guard posix_spawn(&pid, argv[0], nil, nil, arguments, nil) == 0 else { return -1 }
    var status: Int32 = 0
    waitpid(pid, &status, 0)
    return status
}

/// Writes an executable script at `path`.
func writeScript(_ text: String, to path: String) {
    writeText(text, to: path, mode: 0o755)
}
