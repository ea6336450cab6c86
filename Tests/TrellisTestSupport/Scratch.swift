import Foundation

/// The test process's scratch root, made on first use and removed when the process exits.
private let scratchRoot: String = {
    let base = ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp"
    var template = Array("\(base)/trellis-tests-XXXXXX".utf8CString)
    guard let made = mkdtemp(&template) else {
        preconditionFailure("scratch: mkdtemp in \(base) failed (errno \(errno))")
    }
    atexit { removeScratchRoot() }
    return String(cString: made)
}()

private func removeScratchRoot() {
    try? FileManager.default.removeItem(atPath: scratchRoot)
}

/// Fresh temporary directories for tests, all under one directory of this process that
/// is removed when the process exits: a test that stops early (a failed `#require`, a
/// thrown error) leaves nothing behind in the system's temporary directory either.
public enum Scratch {
    /// A new, empty directory whose name starts with `prefix`.
    public static func directory(_ prefix: String) -> String {
        var template = Array("\(scratchRoot)/\(prefix)-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else {
            preconditionFailure("scratch: mkdtemp in \(scratchRoot) failed (errno \(errno))")
        }
        return String(cString: made)
    }

    /// A path under a new directory, not created yet (for tools that create their own).
    public static func path(_ prefix: String, _ name: String) -> String {
        directory(prefix) + "/" + name
    }
}
