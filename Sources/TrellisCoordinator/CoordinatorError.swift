import Glibc

/// A failure inside the coordinator: a code, a message naming what failed, a cause.
public struct CoordinatorError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String

        /// Flags or files the coordinator cannot use.
        public static let configuration = Code(name: "configuration")
        /// A system call failed.
        public static let system = Code(name: "system")
        /// Certificates or keys could not be made or loaded.
        public static let tls = Code(name: "tls")

        public var description: String { name }
    }

    public var code: Code
    public var message: String
    public var cause: (any Error)?

    public init(_ code: Code, _ message: String, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    static func system(_ action: String, function: String, errno: Int32) -> CoordinatorError {
        CoordinatorError(.system, "coordinator: \(action): \(function) failed: \(String(cString: strerror(errno)))")
    }

    public var description: String {
        if let cause { return "\(message): \(cause)" }
        return message
    }
}
