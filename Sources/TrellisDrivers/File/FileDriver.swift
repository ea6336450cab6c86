import Glibc
import TrellisDomain

/// A file with given content and mode inside the environment directory.
///
/// Params:
/// - `path` (required): relative to the environment directory; `..`, absolute paths and
///   symlinks anywhere on the way are refused. Missing parent directories are created
///   (mode 0755, less the umask).
/// - `content` (required): the text to write.
/// - `mode`: permission bits, an octal string like `"0640"` or an integer; default 0644.
///
/// Outputs: `path` (absolute) and `sha256` (of the content, hex).
///
/// Apply writes only when the content or the mode differ, and then atomically (a
/// temporary file in the same directory, synced, renamed over the old one); a mode that
/// alone differs is changed in place. Observe reports a missing file, changed content, a
/// changed mode, or something else at the path as drift. Delete removes the file.
public struct FileDriver: ResourceDriver {
    public let name = "file"

    public init() {}

    public func validate(_ params: SpecMap) -> [ParamProblem] {
        FileSpec.problems(in: params)
    }

    public func apply(_ request: DriverRequest) async throws(DriverError) -> DriverOutputs {
        let spec = try FileSpec(request.params)
        let directory = try EnvironmentDirectory.open(for: request, driver: name)
        guard let parent = try directory.openParent(of: spec.path, creatingWith: 0o755) else {
            preconditionFailure("openParent creating directories returned nothing")
        }

        if let status = try directory.status(of: spec.path, in: parent) {
            try refuseNonFile(status, spec.path, directory, parent)
            if try directory.fileHolds(spec.path, in: parent, size: Int(status.st_size), spec.content) {
                if status.st_mode & 0o7777 != spec.mode {
                    try changeMode(spec, directory, parent)
                }
                return outputs(spec, directory)
            }
        }
        try directory.replaceFile(spec.path, in: parent, with: spec.content, mode: spec.mode)
        return outputs(spec, directory)
    }

    public func observe(_ request: DriverRequest, applied: DriverOutputs) async throws(DriverError) -> Observation {
        let spec = try FileSpec(request.params)
        guard let directory = try EnvironmentDirectory.openExisting(for: request, driver: name),
            let parent = try directory.openParent(of: spec.path),
            let status = try directory.status(of: spec.path, in: parent)
        else {
            return .missing("no file at \(spec.path)")
        }

        switch status.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFLNK: return .drifted("\(spec.path) is now a symlink")
        case S_IFDIR: return .drifted("\(spec.path) is now a directory")
        default: return .drifted("\(spec.path) is no longer a regular file")
        }
        var changes: [String] = []
        if try !directory.fileHolds(spec.path, in: parent, size: Int(status.st_size), spec.content) {
            changes.append("content changed")
        }
        let mode = status.st_mode & 0o7777
        if mode != spec.mode {
            changes.append("mode is \(PermissionMode.format(mode)), expected \(PermissionMode.format(spec.mode))")
        }
        return changes.isEmpty ? .matches : .drifted(changes.joined(separator: "; "))
    }

    public func delete(_ request: DriverRequest) async throws(DriverError) {
        let spec = try FileSpec(request.params)
        guard let directory = try EnvironmentDirectory.openExisting(for: request, driver: name),
            let parent = try directory.openParent(of: spec.path),
            let status = try directory.status(of: spec.path, in: parent)
        else {
            return
        }
        try refuseNonFile(status, spec.path, directory, parent)
        guard unlinkat(parent.raw, spec.path.name, 0) == 0 || errno == ENOENT else {
            throw directory.failure(
                spec.path, upTo: spec.path.components.count - 1, systemCallFailure("unlinkat", errno: errno))
        }
    }

    /// Throws unless `status` is a regular file's: a symlink or a directory at the path is
    /// not this resource's to replace or remove.
    private func refuseNonFile(
        _ status: stat, _ path: RelativePath, _ directory: EnvironmentDirectory, _ parent: OwnedDescriptor
    ) throws(DriverError) {
        let last = path.components.count - 1
        switch status.st_mode & S_IFMT {
        case S_IFREG: return
        case S_IFLNK: try directory.refuseSymlink(path, upTo: last, in: parent)
        case S_IFDIR: throw directory.failure(path, upTo: last, "is a directory, not a file")
        default: break
        }
        throw directory.failure(path, upTo: last, "is not a regular file")
    }

    private func changeMode(
        _ spec: FileSpec, _ directory: EnvironmentDirectory, _ parent: OwnedDescriptor
    )
        throws(DriverError)
    {
        let last = spec.path.components.count - 1
        let raw = openat(parent.raw, spec.path.name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
        guard raw >= 0 else {
            throw directory.failure(spec.path, upTo: last, systemCallFailure("openat", errno: errno))
        }
        let file = OwnedDescriptor(raw)
        guard fchmod(file.raw, spec.mode) == 0 else {
            throw directory.failure(spec.path, upTo: last, systemCallFailure("fchmod", errno: errno))
        }
    }

    private func outputs(_ spec: FileSpec, _ directory: EnvironmentDirectory) -> DriverOutputs {
        DriverOutputs(values: [
            "path": .string(directory.absolute(spec.path)),
            "sha256": .string(SHA256.hexDigest(of: spec.content)),
        ])
    }
}
