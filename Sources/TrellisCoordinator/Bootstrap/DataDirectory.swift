import Glibc

/// The coordinator's data directory and the small files in it.
///
/// Files are replaced atomically (written beside the target with their final mode, synced,
/// then renamed), so a coordinator killed mid-write leaves either the old file or the new.
public struct DataDirectory: Sendable {
    /// The directory's path.
    public let path: String

    /// Opens `path`, creating it (mode 0700) and missing parents if needed.
    public init(path: String) throws(CoordinatorError) {
        self.path = path.hasSuffix("/") && path.count > 1 ? String(path.dropLast()) : path
        try Self.makeDirectories(self.path)
    }

    init(unchecked path: String) {
        self.path = path
    }

    /// The path of `name` inside the directory.
    public func file(_ name: String) -> String { "\(path)/\(name)" }

    /// Whether `name` exists.
    public func exists(_ name: String) -> Bool {
        access(file(name), F_OK) == 0
    }

    /// When `name` was last written, in seconds since the epoch; nil if it does not exist.
    public func modificationTime(_ name: String) -> Int64? {
        var status = stat()
        guard stat(file(name), &status) == 0 else { return nil }
        return Int64(status.st_mtim.tv_sec)
    }

    /// The contents of `name` as UTF-8 text.
    public func read(_ name: String) throws(CoordinatorError) -> String {
        let target = file(name)
        let descriptor = open(target, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .system("reading \(target)", function: "open", errno: errno) }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw .system("reading \(target)", function: "read", errno: errno)
            }
            if count == 0 { break }
            bytes.append(contentsOf: chunk[..<count])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Replaces `name` with `contents`, created with `mode`.
    public func write(_ name: String, _ contents: String, mode: mode_t) throws(CoordinatorError) {
        let target = file(name)
        let action = "writing \(target)"
        let temporary = "\(target).tmp-\(getpid())"
        unlink(temporary)
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode)
        guard descriptor >= 0 else { throw .system(action, function: "open", errno: errno) }
        var bytes = Array(contents.utf8)
        var offset = 0
        var failure: CoordinatorError?
        while offset < bytes.count && failure == nil {
            let written = bytes.withUnsafeMutableBytes {
                Glibc.write(descriptor, $0.baseAddress! + offset, $0.count - offset)
            }
            if written >= 0 {
                offset += written
            } else if errno != EINTR {
                failure = .system(action, function: "write", errno: errno)
            }
        }
        bytes.removeAll()
        if failure == nil && fsync(descriptor) != 0 { failure = .system(action, function: "fsync", errno: errno) }
        close(descriptor)
        if failure == nil && rename(temporary, target) != 0 {
            failure = .system(action, function: "rename", errno: errno)
        }
        if let failure {
            unlink(temporary)
            throw failure
        }
    }

    private static func makeDirectories(_ path: String) throws(CoordinatorError) {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            prefix += component
            if mkdir(prefix, 0o700) != 0 && errno != EEXIST {
                throw .system("creating the data directory \(path)", function: "mkdir", errno: errno)
            }
            prefix += "/"
        }
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else {
            throw CoordinatorError(.configuration, "coordinator: data directory \(path) is not a directory")
        }
    }
}
