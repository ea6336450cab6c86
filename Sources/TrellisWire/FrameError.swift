/// Why the frame codec could not read or write a frame.
///
/// Every frame error ends the connection: the peer is sent a GoAway and nothing more
/// is read.
public struct FrameError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String

        /// A length prefix is larger than the frame size limit.
        public static let frameTooLarge = Code(name: "frame too large")
        /// A length prefix is zero: a frame must carry a kind.
        public static let emptyFrame = Code(name: "empty frame")
        /// A frame decoded but carries none of the frame kinds.
        public static let missingKind = Code(name: "missing kind")
        /// A frame's bytes are not a valid `Frame` encoding; ``FrameError/cause`` says why.
        public static let undecodable = Code(name: "undecodable")
        /// A frame could not be encoded; ``FrameError/cause`` says why.
        public static let unencodable = Code(name: "unencodable")

        public var description: String { name }
    }

    /// What kind of failure this is.
    public var code: Code
    /// What went wrong, e.g. `wire: frame of 4294967295 bytes exceeds the limit of 4194304`.
    public var message: String
    /// The ``WireDecodingError`` or ``WireEncodingError`` behind the failure, if any.
    public var cause: (any Error & Sendable)?

    public init(code: Code, message: String, cause: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String { message }

    static func frameTooLarge(length: Int, limit: Int) -> FrameError {
        FrameError(code: .frameTooLarge, message: "wire: frame of \(length) bytes exceeds the limit of \(limit)")
    }

    static var emptyFrame: FrameError {
        FrameError(code: .emptyFrame, message: "wire: frame of 0 bytes; a frame carries a kind")
    }

    static func missingKind(streamID: UInt32) -> FrameError {
        FrameError(code: .missingKind, message: "wire: frame on stream \(streamID) carries no kind")
    }

    static func undecodable(_ error: WireDecodingError) -> FrameError {
        FrameError(code: .undecodable, message: "wire: undecodable frame: \(error.reason)", cause: error)
    }

    static func unencodable(_ error: WireEncodingError) -> FrameError {
        FrameError(code: .unencodable, message: "wire: cannot encode frame: \(error.reason)", cause: error)
    }
}
