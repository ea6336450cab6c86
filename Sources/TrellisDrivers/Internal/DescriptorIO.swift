import Glibc

extension OwnedDescriptor {
    /// Writes all of `bytes`, or returns the errno of the failed write.
    func writeAll(_ bytes: [UInt8]) -> Int32? {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { buffer in
                write(raw, buffer.baseAddress! + offset, buffer.count - offset)
            }
            if written < 0 {
                if errno == EINTR { continue }
                return errno
            }
            offset += written
        }
        return nil
    }

    /// Reads to the end, at most `limit` bytes (nil past it), or returns the errno.
    func readAll(limit: Int) -> Result<[UInt8]?, SystemCallError> {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(raw, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                return .failure(SystemCallError(function: "read", errno: errno))
            }
            if count == 0 { return .success(bytes) }
            bytes += chunk[..<count]
            if bytes.count > limit { return .success(nil) }
        }
    }
}

/// A failed C call: the function and its errno.
struct SystemCallError: Error, CustomStringConvertible {
    var function: String
    var errno: Int32

    var description: String { systemCallFailure(function, errno: errno) }
}
