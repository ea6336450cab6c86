/// The canonical status codes of a finished call, with gRPC's numbering and meanings.
public struct StatusCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt32

    public init(rawValue: UInt32) {
        self.rawValue = rawValue
    }

    /// The call succeeded.
    public static let ok = StatusCode(rawValue: 0)
    /// The caller cancelled the call.
    public static let cancelled = StatusCode(rawValue: 1)
    /// An error with no better code.
    public static let unknown = StatusCode(rawValue: 2)
    /// The request is malformed, whatever the state of the system.
    public static let invalidArgument = StatusCode(rawValue: 3)
    /// The deadline passed before the call finished.
    public static let deadlineExceeded = StatusCode(rawValue: 4)
    /// The named thing does not exist.
    public static let notFound = StatusCode(rawValue: 5)
    /// The thing to be created exists already.
    public static let alreadyExists = StatusCode(rawValue: 6)
    /// The caller is known but may not do this.
    public static let permissionDenied = StatusCode(rawValue: 7)
    /// A limit or quota was reached.
    public static let resourceExhausted = StatusCode(rawValue: 8)
    /// The system is not in a state that allows the call.
    public static let failedPrecondition = StatusCode(rawValue: 9)
    /// The call was aborted by a conflict; retrying at a higher level may succeed.
    public static let aborted = StatusCode(rawValue: 10)
    /// A value was outside its valid range.
    public static let outOfRange = StatusCode(rawValue: 11)
    /// The server does not implement the method.
    public static let unimplemented = StatusCode(rawValue: 12)
    /// An invariant inside the server broke.
    public static let `internal` = StatusCode(rawValue: 13)
    /// The service cannot be reached now; retrying may succeed.
    public static let unavailable = StatusCode(rawValue: 14)
    /// Data was lost or corrupted.
    public static let dataLoss = StatusCode(rawValue: 15)
    /// The caller did not prove who it is.
    public static let unauthenticated = StatusCode(rawValue: 16)

    /// The upper-snake-case name, e.g. `DEADLINE_EXCEEDED`, or `CODE_n` for an
    /// unknown number.
    public var name: String {
        switch rawValue {
        case 0: "OK"
        case 1: "CANCELLED"
        case 2: "UNKNOWN"
        case 3: "INVALID_ARGUMENT"
        case 4: "DEADLINE_EXCEEDED"
        case 5: "NOT_FOUND"
        case 6: "ALREADY_EXISTS"
        case 7: "PERMISSION_DENIED"
        case 8: "RESOURCE_EXHAUSTED"
        case 9: "FAILED_PRECONDITION"
        case 10: "ABORTED"
        case 11: "OUT_OF_RANGE"
        case 12: "UNIMPLEMENTED"
        case 13: "INTERNAL"
        case 14: "UNAVAILABLE"
        case 15: "DATA_LOSS"
        case 16: "UNAUTHENTICATED"
        default: "CODE_\(rawValue)"
        }
    }

    public var description: String { name }
}
