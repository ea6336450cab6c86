import Glibc
import TrellisDomain

/// A directory inside the environment directory.
///
/// Params:
/// - `path` (required): relative to the environment directory, as for `file`. Missing
///   parents are created (mode 0755, less the umask).
/// - `mode`: permission bits, an octal string like `"0750"` or an integer; default 0755.
///
/// Outputs: `path` (absolute).
///
/// Apply creates the directory or corrects its mode, leaving its contents alone. Observe
/// reports a missing directory, another kind of file at the path, or a changed mode.
/// Delete removes the directory and everything in it, never following a symlink.
public struct DirectoryDriver: ResourceDriver {
    public let name = "directory"

    static let fields = ["path", "mode"]
    static let defaultMode: mode_t = 0o755

    public init() {}

    public func validate(_ params: SpecMap) -> [ParamProblem] {
        var checks = ParamChecks(params)
        checks.rejectUnknown(driver: name, allowed: Self.fields)
        checks.require("path")
        checks.checkPath("path")
        checks.checkMode("mode")
        return checks.problems
    }

    public func apply(_ request: DriverRequest) async throws(DriverError) -> DriverOutputs {
        let (path, mode) = try parse(request.params)
        let directory = try EnvironmentDirectory.open(for: request, driver: name)
        guard let parent = try directory.openParent(of: path, creatingWith: 0o755) else {
            preconditionFailure("openParent creating directories returned nothing")
        }
        let last = path.components.count - 1

        if let status = try directory.status(of: path, in: parent) {
            try refuseNonDirectory(status, path, directory, parent)
        } else if mkdirat(parent.raw, path.name, mode) != 0 && errno != EEXIST {
            throw directory.failure(path, upTo: last, systemCallFailure("mkdirat", errno: errno))
        }
        guard let opened = try directory.openDirectory(path, depth: path.components.count) else {
            throw directory.failure(path, upTo: last, "vanished while being created")
        }
        var status = stat()
        guard fstat(opened.raw, &status) == 0 else {
            throw directory.failure(path, upTo: last, systemCallFailure("fstat", errno: errno))
        }
        // Set explicitly: mkdirat applies the umask.
        if status.st_mode & 0o7777 != mode && fchmod(opened.raw, mode) != 0 {
            throw directory.failure(path, upTo: last, systemCallFailure("fchmod", errno: errno))
        }
        return DriverOutputs(values: ["path": .string(directory.absolute(path))])
    }

    public func observe(_ request: DriverRequest, applied: DriverOutputs) async throws(DriverError) -> Observation {
        let (path, mode) = try parse(request.params)
        guard let directory = try EnvironmentDirectory.openExisting(for: request, driver: name),
            let parent = try directory.openParent(of: path),
            let status = try directory.status(of: path, in: parent)
        else {
            return .missing("no directory at \(path)")
        }
        switch status.st_mode & S_IFMT {
        case S_IFDIR: break
        case S_IFLNK: return .drifted("\(path) is now a symlink")
        default: return .drifted("\(path) is no longer a directory")
        }
        let found = status.st_mode & 0o7777
        guard found == mode else {
            return .drifted("mode is \(PermissionMode.format(found)), expected \(PermissionMode.format(mode))")
        }
        return .matches
    }

    public func delete(_ request: DriverRequest) async throws(DriverError) {
        let (path, _) = try parse(request.params)
        guard let directory = try EnvironmentDirectory.openExisting(for: request, driver: name),
            let parent = try directory.openParent(of: path),
            let status = try directory.status(of: path, in: parent)
        else {
            return
        }
        try refuseNonDirectory(status, path, directory, parent)
        try directory.removeTree(path, in: parent)
    }

    private func parse(_ params: SpecMap) throws(DriverError) -> (RelativePath, mode_t) {
        let problems = validate(params)
        guard problems.isEmpty else { throw DriverError.invalidParams(name, problems) }
        let path = try RelativePath.parsed(params["path"]!.stringValue!, field: "params.path", driver: name)
        return (path, try PermissionMode.parsed(params["mode"], default: Self.defaultMode, driver: name))
    }

    private func refuseNonDirectory(
        _ status: stat, _ path: RelativePath, _ directory: EnvironmentDirectory, _ parent: OwnedDescriptor
    ) throws(DriverError) {
        let last = path.components.count - 1
        switch status.st_mode & S_IFMT {
        case S_IFDIR: return
        case S_IFLNK: try directory.refuseSymlink(path, upTo: last, in: parent)
        default: break
        }
        throw directory.failure(path, upTo: last, "is not a directory")
    }
}
