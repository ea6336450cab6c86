/// The four shapes a call can take.
public enum CallKind: Sendable, Hashable {
    /// One request, one response.
    case unary
    /// One request, a stream of responses.
    case serverStreaming
    /// A stream of requests, one response.
    case clientStreaming
    /// Streams both ways.
    case bidirectionalStreaming
}

/// Names a method and fixes its request and response types.
///
/// Generated for every rpc in proto/, e.g. `TrellisV1.HealthService.check`.
public struct MethodDescriptor<Request: WireMessage, Response: WireMessage>: Sendable, Hashable {
    /// The fully qualified service name, e.g. `trellis.v1.HealthService`.
    public let service: String
    /// The method name, e.g. `Check`.
    public let method: String
    /// The call shape.
    public let kind: CallKind

    public init(service: String, method: String, kind: CallKind) {
        self.service = service
        self.method = method
        self.kind = kind
    }

    /// The path that travels in an Open frame: `/trellis.v1.HealthService/Check`.
    public var path: String { "/\(service)/\(method)" }
}
