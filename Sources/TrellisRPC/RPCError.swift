import TrellisWire

/// The outcome of a failed call, as the caller sees it: a status code, a message and
/// structured details.
///
/// Handlers throw it to end a call with that status; any other error a handler throws
/// reaches the client as `INTERNAL` with a generic message, and is logged on the server
/// with the request id, so internal details never leak. Clients receive every failure,
/// including transport failures (`UNAVAILABLE`) and local deadlines
/// (`DEADLINE_EXCEEDED`), as an `RPCError`.
public struct RPCError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The canonical status code.
    public var code: StatusCode
    /// A human-readable message naming the subsystem and what failed.
    public var message: String
    /// Structured details, e.g. one per violation in a rejected spec.
    public var details: [WireV1.ErrorDetail]

    public init(_ code: StatusCode, _ message: String, details: [WireV1.ErrorDetail] = []) {
        self.code = code
        self.message = message
        self.details = details
    }

    public var description: String {
        message.isEmpty ? code.name : "\(code.name): \(message)"
    }

    /// A detail with the given reason, subject and description, for building errors.
    public static func detail(reason: String, subject: String, description: String) -> WireV1.ErrorDetail {
        var detail = WireV1.ErrorDetail()
        detail.reason = reason
        detail.subject = subject
        detail.description = description
        return detail
    }
}
