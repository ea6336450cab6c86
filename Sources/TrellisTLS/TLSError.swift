/// An error from the TLS layer: a configuration, handshake, I/O or certificate failure.
///
/// The ``message`` is complete on its own and names the subsystem and the thing that
/// failed, for example `tls: handshake with 127.0.0.1:51234 failed: certificate required`.
/// The OpenSSL error queue of the failing call is kept in ``openSSLReasons``, and a failed
/// system call keeps its `errno` in ``systemErrno``.
public struct TLSError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of failure this is. New codes may be added; switch with a default.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String

        private init(_ name: String) {
            self.name = name
        }

        /// A context or configuration was rejected: a bad PEM, a key that does not match.
        public static let configuration = Code("configuration")
        /// The TLS handshake failed for a reason other than certificate verification.
        public static let handshake = Code("handshake")
        /// The peer's certificate chain did not verify.
        public static let verification = Code("verification")
        /// Reading or writing an established connection failed, or the socket failed.
        public static let io = Code("io")
        /// A certificate, signing request or key could not be parsed, built or signed.
        public static let certificate = Code("certificate")
        /// A file could not be written.
        public static let file = Code("file")

        /// The code's name, e.g. `handshake`.
        public var description: String { name }
    }

    /// What kind of failure this is.
    public var code: Code
    /// The human-readable message, naming the subsystem and what failed.
    public var message: String
    /// The OpenSSL error queue of the failing call, oldest first, one line per entry.
    public var openSSLReasons: [String]
    /// The `errno` of a failed system call, when one caused the error.
    public var systemErrno: Int32?

    /// Creates an error; most callers receive these rather than create them.
    public init(
        code: Code,
        message: String,
        openSSLReasons: [String] = [],
        systemErrno: Int32? = nil
    ) {
        self.code = code
        self.message = message
        self.openSSLReasons = openSSLReasons
        self.systemErrno = systemErrno
    }

    /// The ``message``.
    public var description: String { message }
}
