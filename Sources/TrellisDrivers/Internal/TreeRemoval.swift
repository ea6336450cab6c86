import Glibc

extension EnvironmentDirectory {
    /// How deep `removeTree` descends: each level holds a descriptor open.
    static let maximumRemovalDepth = 128

    /// Removes the directory `relative` (in the already opened `parent`) and everything in
    /// it. Symlinks inside are removed as links, never followed, and the walk goes through
    /// descriptors, so nothing outside the directory is touched even if its contents change
    /// meanwhile.
    func removeTree(_ relative: RelativePath, in parent: OwnedDescriptor) throws(DriverError) {
        let last = relative.components.count - 1
        do {
            try removeContents(of: relative.name, in: parent, depth: 0)
            guard unlinkat(parent.raw, relative.name, AT_REMOVEDIR) == 0 || errno == ENOENT else {
                throw SystemCallError(function: "unlinkat", errno: errno)
            }
        } catch let error as SystemCallError {
            throw failure(relative, upTo: last, error.description)
        } catch {
            throw failure(relative, upTo: last, "\(error)")
        }
    }

    private func removeContents(of name: String, in parent: OwnedDescriptor, depth: Int) throws(SystemCallError) {
        guard depth < Self.maximumRemovalDepth else {
            throw SystemCallError(function: "remove (deeper than \(Self.maximumRemovalDepth) levels)", errno: ELOOP)
        }
        let raw = openat(parent.raw, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard raw >= 0 else {
            if errno == ENOENT { return }
            throw SystemCallError(function: "openat \(name)", errno: errno)
        }
        let directory = OwnedDescriptor(raw)
        // Entries of a directory without owner write and search permission cannot be removed.
        var status = stat()
        if fstat(directory.raw, &status) == 0 && status.st_mode & 0o700 != 0o700 {
            _ = fchmod(directory.raw, status.st_mode & 0o7777 | 0o700)
        }

        for (entry, isDirectory) in try entries(of: directory) {
            if isDirectory {
                try removeContents(of: entry, in: directory, depth: depth + 1)
                guard unlinkat(directory.raw, entry, AT_REMOVEDIR) == 0 || errno == ENOENT else {
                    throw SystemCallError(function: "unlinkat \(entry)", errno: errno)
                }
            } else {
                guard unlinkat(directory.raw, entry, 0) == 0 || errno == ENOENT else {
                    throw SystemCallError(function: "unlinkat \(entry)", errno: errno)
                }
            }
        }
    }

    /// The names in `directory` (without `.` and `..`), each with whether it is a directory
    /// (a symlink to one is not), read completely before anything is removed.
    private func entries(of directory: OwnedDescriptor) throws(SystemCallError) -> [(String, Bool)] {
        // fdopendir takes over the descriptor it is given, so give it a duplicate.
        let duplicate = fcntl(directory.raw, F_DUPFD_CLOEXEC, 0)
        guard duplicate >= 0 else { throw SystemCallError(function: "fcntl F_DUPFD_CLOEXEC", errno: errno) }
        guard let stream = fdopendir(duplicate) else {
            let code = errno
            _ = close(duplicate)
            throw SystemCallError(function: "fdopendir", errno: code)
        }
        defer { closedir(stream) }

        var found: [(String, Bool)] = []
        while true {
            errno = 0
            guard let entry = readdir(stream) else {
                if errno != 0 { throw SystemCallError(function: "readdir", errno: errno) }
                return found
            }
            let name = withUnsafePointer(to: &entry.pointee.d_name) {
                String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))
            }
            if name == "." || name == ".." { continue }
            var isDirectory = Int32(entry.pointee.d_type) == DT_DIR
            if Int32(entry.pointee.d_type) == DT_UNKNOWN {
                var status = stat()
                isDirectory =
                    fstatat(directory.raw, name, &status, AT_SYMLINK_NOFOLLOW) == 0
                    && status.st_mode & S_IFMT == S_IFDIR
            }
            found.append((name, isDirectory))
        }
    }
}
