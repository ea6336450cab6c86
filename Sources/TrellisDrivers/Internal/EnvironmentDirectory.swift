import Glibc
import TrellisDomain

/// The environment's directory on this host, opened, with the walk that keeps every path
/// param inside it.
///
/// Paths are opened one component at a time with `openat` and `O_NOFOLLOW`, so a symlink
/// anywhere on the way (planted before or during the walk) is refused rather than
/// followed. The directory itself is trusted: the agent chose it.
struct EnvironmentDirectory {
    /// The absolute path, without a trailing slash.
    let path: String
    /// The open directory every walk starts from.
    let descriptor: OwnedDescriptor
    /// The driver's name, for messages.
    let driver: String

    /// Mode for the environment directory and any directory above it created here.
    static let mode: mode_t = 0o700

    /// Opens `request.environmentDirectory`, creating it (and missing parents) with mode
    /// 0700 when it does not exist.
    static func open(for request: DriverRequest, driver: String) throws(DriverError) -> EnvironmentDirectory {
        try open(for: request, driver: driver, creating: true)!
    }

    /// Opens `request.environmentDirectory` if it exists, for steps that change nothing
    /// (observe) or only remove (delete).
    static func openExisting(for request: DriverRequest, driver: String) throws(DriverError) -> EnvironmentDirectory? {
        try open(for: request, driver: driver, creating: false)
    }

    private static func open(
        for request: DriverRequest, driver: String, creating: Bool
    ) throws(DriverError) -> EnvironmentDirectory? {
        guard let path = request.environmentDirectory else {
            throw DriverError("\(driver): no environment directory: this driver needs one for its paths")
        }
        guard path.hasPrefix("/") else {
            throw DriverError("\(driver): the environment directory \(path) is not an absolute path")
        }
        var trimmed = path
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed.removeLast() }

        var prefix = ""
        for component in trimmed.split(separator: "/") where creating {
            prefix += "/" + component
            if mkdir(prefix, mode) != 0 && errno != EEXIST {
                throw DriverError(
                    "\(driver): cannot create the environment directory \(trimmed): "
                        + systemCallFailure("mkdir \(prefix)", errno: errno))
            }
        }
        let raw = Glibc.open(trimmed, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard raw >= 0 else {
            if !creating && errno == ENOENT { return nil }
            throw DriverError(
                "\(driver): cannot open the environment directory: "
                    + systemCallFailure("open \(trimmed)", errno: errno))
        }
        return EnvironmentDirectory(path: trimmed, descriptor: OwnedDescriptor(raw), driver: driver)
    }

    /// The absolute form of `relative`, for outputs and messages.
    func absolute(_ relative: RelativePath) -> String {
        path == "/" ? "/" + relative.description : path + "/" + relative.description
    }

    /// Opens the directory that holds `relative`'s last component. Missing directories are
    /// created with `creatingWith` when given (and the umask); otherwise a missing one
    /// gives nil.
    func openParent(of relative: RelativePath, creatingWith mode: mode_t? = nil) throws(DriverError) -> OwnedDescriptor?
    {
        try openDirectory(relative, depth: relative.components.count - 1, creatingWith: mode)
    }

    /// Opens the first `depth` components of `relative` as directories, refusing symlinks.
    func openDirectory(
        _ relative: RelativePath, depth: Int, creatingWith mode: mode_t? = nil
    ) throws(DriverError) -> OwnedDescriptor? {
        var current = descriptor
        for index in 0..<depth {
            let component = relative.components[index]
            var raw = openat(current.raw, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if raw < 0 && errno == ENOENT {
                guard let mode else { return nil }
                if mkdirat(current.raw, component, mode) != 0 && errno != EEXIST {
                    throw failure(relative, upTo: index, systemCallFailure("mkdirat", errno: errno))
                }
                raw = openat(current.raw, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            }
            guard raw >= 0 else {
                let code = errno
                if code == ELOOP || code == ENOTDIR {
                    try refuseSymlink(relative, upTo: index, in: current)
                    throw failure(relative, upTo: index, "is not a directory")
                }
                throw failure(relative, upTo: index, systemCallFailure("openat", errno: code))
            }
            current = OwnedDescriptor(raw)
        }
        return current
    }

    /// The status of `name` in `parent` without following a symlink; nil when it does
    /// not exist.
    func status(of relative: RelativePath, in parent: OwnedDescriptor) throws(DriverError) -> stat? {
        var status = stat()
        guard fstatat(parent.raw, relative.name, &status, AT_SYMLINK_NOFOLLOW) == 0 else {
            if errno == ENOENT { return nil }
            throw failure(relative, upTo: relative.components.count - 1, systemCallFailure("fstatat", errno: errno))
        }
        return status
    }

    /// Throws when the component at `index` is a symlink.
    func refuseSymlink(_ relative: RelativePath, upTo index: Int, in parent: OwnedDescriptor) throws(DriverError) {
        var status = stat()
        let name = relative.components[index]
        if fstatat(parent.raw, name, &status, AT_SYMLINK_NOFOLLOW) == 0 && status.st_mode & S_IFMT == S_IFLNK {
            throw DriverError(
                "\(driver): \(relative.field): \(SpecValue.string(relative.text).canonicalJSON) passes through a "
                    + "symlink at \(relative.components[...index].joined(separator: "/")); symlinks are not followed")
        }
    }

    /// An error about the first `index + 1` components of `relative`.
    func failure(_ relative: RelativePath, upTo index: Int, _ reason: String) -> DriverError {
        DriverError(
            "\(driver): \(relative.field): \(relative.components[...index].joined(separator: "/")) "
                + "in \(path): \(reason)")
    }
}
