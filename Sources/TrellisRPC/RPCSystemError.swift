#if canImport(Glibc)
import Glibc
#endif

/// A failed system call inside the runtime: the function and its errno.
public struct RPCSystemError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The C function that failed, e.g. `bind`.
    public var function: String
    /// The errno it left.
    public var errno: Int32
    /// What the runtime was doing, e.g. `listening on 127.0.0.1:7443`.
    public var context: String

    public init(function: String, errno: Int32, context: String = "") {
        self.function = function
        self.errno = errno
        self.context = context
    }

    public var description: String {
        let reason = String(cString: strerror(errno))
        return context.isEmpty
            ? "rpc: \(function) failed: \(reason) (errno \(errno))"
            : "rpc: \(context): \(function) failed: \(reason) (errno \(errno))"
    }
}
