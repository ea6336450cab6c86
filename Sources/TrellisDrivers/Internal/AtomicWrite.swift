import Glibc

extension EnvironmentDirectory {
    /// Replaces `relative` (in the already opened `parent`) with `bytes` and `mode`
    /// atomically: a temporary file in the same directory is written, synced and renamed
    /// over it, then the directory is synced, so a crash leaves the old file or the new one.
    ///
    /// The temporary file's name is fixed per target, so one a crash left behind is
    /// removed by the next apply instead of piling up.
    func replaceFile(
        _ relative: RelativePath, in parent: OwnedDescriptor, with bytes: [UInt8], mode: mode_t
    ) throws(DriverError) {
        let last = relative.components.count - 1
        let temporary =
            ".\(relative.name.utf8.count > 200 ? String(relative.name.prefix(200)) : relative.name).trellis-tmp"
        if unlinkat(parent.raw, temporary, 0) != 0 && errno != ENOENT {
            throw failure(relative, upTo: last, systemCallFailure("unlinkat \(temporary)", errno: errno))
        }

        let raw = openat(parent.raw, temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard raw >= 0 else {
            throw failure(relative, upTo: last, systemCallFailure("openat \(temporary)", errno: errno))
        }
        let file = OwnedDescriptor(raw)
        func abandon(_ function: String, _ code: Int32) -> DriverError {
            _ = unlinkat(parent.raw, temporary, 0)
            return failure(relative, upTo: last, systemCallFailure(function, errno: code))
        }
        // fchmod, not the open mode, so the umask does not change what the params asked for.
        guard fchmod(file.raw, mode) == 0 else { throw abandon("fchmod", errno) }
        if let code = file.writeAll(bytes) { throw abandon("write", code) }
        guard retryingInterrupts({ fsync(file.raw) }) == 0 else { throw abandon("fsync", errno) }
        guard renameat(parent.raw, temporary, parent.raw, relative.name) == 0 else {
            throw abandon("renameat", errno)
        }
        guard retryingInterrupts({ fsync(parent.raw) }) == 0 else {
            throw failure(relative, upTo: last, systemCallFailure("fsync of the directory", errno: errno))
        }
    }

    /// Whether the regular file `relative` holds exactly `bytes`; reads nothing when the
    /// sizes differ.
    func fileHolds(
        _ relative: RelativePath, in parent: OwnedDescriptor, size: Int, _ bytes: [UInt8]
    ) throws(DriverError) -> Bool {
        guard size == bytes.count else { return false }
        let raw = openat(parent.raw, relative.name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
        guard raw >= 0 else {
            throw failure(relative, upTo: relative.components.count - 1, systemCallFailure("openat", errno: errno))
        }
        let file = OwnedDescriptor(raw)
        switch file.readAll(limit: bytes.count) {
        case .success(let found): return found == bytes
        case .failure(let error):
            throw failure(relative, upTo: relative.components.count - 1, error.description)
        }
    }
}
