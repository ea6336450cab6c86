import Glibc

/// Atomic replacement of small files created with an exact mode.
enum FileWriting {
    /// Writes `contents` to a new file beside `path`, created with `mode`, flushes it and
    /// renames it over `path`.
    static func replace(_ path: String, with contents: String, mode: mode_t, what: String) throws(TLSError) {
        let action = "writing \(what) to \(path)"
        let temporary = "\(path).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode)
        guard descriptor >= 0 else {
            throw .system(.file, action, function: "open", errno: errno)
        }

        var failure: TLSError? = nil
        var bytes = Array(contents.utf8)
        var offset = 0
        while offset < bytes.count, failure == nil {
            let written = bytes.withUnsafeMutableBytes { buffer in
                Glibc.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
            }
            if written >= 0 {
                offset += written
            } else if errno != EINTR {
                failure = .system(.file, action, function: "write", errno: errno)
            }
        }
        if failure == nil, fsync(descriptor) != 0 {
            failure = .system(.file, action, function: "fsync", errno: errno)
        }
        if close(descriptor) != 0, failure == nil {
            failure = .system(.file, action, function: "close", errno: errno)
        }
        if failure == nil, rename(temporary, path) != 0 {
            failure = .system(.file, action, function: "rename", errno: errno)
        }
        if let failure {
            unlink(temporary)
            throw failure
        }
    }
}
