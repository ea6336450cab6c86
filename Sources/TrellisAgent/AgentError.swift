/// A failure of the agent: joining, its data directory, its configuration.
///
/// The ``message`` is complete on its own and is what `trellis-agent` prints after its
/// name, e.g. `join refused: join token 3f2a… was already used`.
public struct AgentError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of failure this is. New codes may be added; switch with a default.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String

        private init(_ name: String) {
            self.name = name
        }

        /// A setting is missing or invalid: a name, a label, a token.
        public static let configuration = Code("configuration")
        /// The data directory could not be read or written, or holds something unreadable.
        public static let dataDirectory = Code("data-directory")
        /// The coordinator's CA does not match the fingerprint in the join token.
        public static let fingerprintMismatch = Code("fingerprint-mismatch")
        /// The coordinator refused the join: a used, expired or unknown token, or a name
        /// taken by another key.
        public static let joinRefused = Code("join-refused")
        /// Joining failed for another reason: the coordinator unreachable, a bad answer.
        public static let joinFailed = Code("join-failed")
        /// The coordinator broke the Connect stream's contract.
        public static let protocolViolation = Code("protocol-violation")

        /// The code's name, e.g. `join-refused`.
        public var description: String { name }
    }

    /// What kind of failure this is.
    public var code: Code
    /// The human-readable message.
    public var message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// The ``message``.
    public var description: String { message }
}
