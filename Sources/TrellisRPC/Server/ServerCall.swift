import TrellisWire

/// One call as a handler's adapters see it: a stream on a connection, and its context.
///
/// The context is kept behind a reference: request streams, response writers and every
/// async frame of a long call hold a `ServerCall`, and a task keeps the memory of its
/// deepest frames for as long as it lives.
struct ServerCall: Sendable {
    let connection: ServerConnection
    let streamID: UInt32
    private let contextBox: ContextBox

    var context: ServerCallContext { contextBox.context }

    init(connection: ServerConnection, streamID: UInt32, context: ServerCallContext) {
        self.connection = connection
        self.streamID = streamID
        self.contextBox = ContextBox(context)
    }

    private final class ContextBox: Sendable {
        let context: ServerCallContext
        init(_ context: ServerCallContext) { self.context = context }
    }

    /// The one request of a unary or server-streaming call, after the client's
    /// HalfClose. Zero or several messages are an `INVALID_ARGUMENT`.
    func singleRequest<Request: WireMessage>(_ type: Request.Type) async throws -> Request {
        guard let bytes = try await receive() else {
            throw RPCError(.invalidArgument, "rpc: \(context.method) expects one request message, got none")
        }
        if try await receive() != nil {
            throw RPCError(.invalidArgument, "rpc: \(context.method) expects one request message, got more")
        }
        return try decode(type, bytes)
    }

    /// The next request of a streaming call, nil after the client's HalfClose.
    func nextRequest<Request: WireMessage>(_ type: Request.Type) async throws -> Request? {
        guard let bytes = try await receive() else { return nil }
        return try decode(type, bytes)
    }

    /// The next request bytes, nil after HalfClose. A handler on the connection's loop
    /// takes bytes already here without switching executors.
    private func receive() async throws -> [UInt8]? {
        switch try connection.ifOnLoop({ try $0.receiveNow(streamID) }) {
        case .message(let bytes)?:
            return bytes
        case .end?:
            return nil
        case .wait?, nil:
            return try await connection.receive(streamID)
        }
    }

    func send<Response: WireMessage>(_ response: Response, coalescing: Bool = false) async throws {
        let bytes: [UInt8]
        do {
            bytes = try response.encoded()
        } catch {
            throw RPCError(.internal, "rpc: \(context.method) produced a response that cannot be encoded")
        }
        // On the connection's loop, with window to spare, the message goes out at once.
        if try connection.ifOnLoop({ try $0.sendNow(streamID, bytes, coalescing: coalescing) }) == true { return }
        try await connection.send(streamID, bytes, coalescing: coalescing)
    }

    private func decode<Request: WireMessage>(_ type: Request.Type, _ bytes: [UInt8]) throws -> Request {
        do {
            return try Request(decoding: bytes)
        } catch {
            throw RPCError(
                .invalidArgument,
                "rpc: request for \(context.method) is not a valid \(Request.protoName): \(error.reason)")
        }
    }
}
