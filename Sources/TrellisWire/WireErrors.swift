/// Why bytes could not be decoded as a message.
public struct WireDecodingError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of failure this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String

        /// The bytes are not a well-formed protobuf encoding of the type.
        public static let malformed = Code(name: "malformed")
        /// A string field holds bytes that are not UTF-8, or a NUL character.
        public static let invalidString = Code(name: "invalid string")
        /// Messages nest deeper than ``WireLimits/maxNestingDepth``.
        public static let tooDeep = Code(name: "too deep")
        /// The encoding exceeds a size limit.
        public static let tooLarge = Code(name: "too large")

        public var description: String { name }
    }

    /// What kind of failure this is.
    public var code: Code
    /// The protobuf name of the message being decoded.
    public var messageType: String
    /// What was wrong, e.g. `field method: invalid UTF-8 at offset 3`.
    public var reason: String

    public init(code: Code, messageType: String, reason: String) {
        self.code = code
        self.messageType = messageType
        self.reason = reason
    }

    public var description: String {
        "wire: cannot decode \(messageType): \(reason)"
    }
}

/// Why a message could not be encoded.
public struct WireEncodingError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The protobuf name of the message being encoded.
    public var messageType: String
    /// What was wrong, e.g. `field method: string contains NUL`.
    public var reason: String

    public init(messageType: String, reason: String) {
        self.messageType = messageType
        self.reason = reason
    }

    public var description: String {
        "wire: cannot encode \(messageType): \(reason)"
    }
}
