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

    /// The detail reason that marks a call the server did no work for: retrying it, on
    /// this server later or on another, cannot do anything twice.
    public static let notProcessedReason = "NOT_PROCESSED"

    /// `UNAVAILABLE` for a call the server refused before doing any work.
    public static func notProcessed(_ message: String) -> RPCError {
        RPCError(
            .unavailable, message,
            details: [detail(reason: notProcessedReason, subject: "", description: "the call was not processed")])
    }

    /// Whether the server did no work for the call, so that it is safe to retry.
    public var wasNotProcessed: Bool {
        code == .unavailable && details.contains { $0.reason == Self.notProcessedReason }
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
