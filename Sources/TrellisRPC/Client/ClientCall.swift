import TrellisWire

/// One open call on a client connection.
struct ClientCall: Sendable {
    let connection: ClientConnection
    let streamID: UInt32
    let path: String

    func send<Request: WireMessage>(_ request: Request) async throws {
        try await send(bytes: Self.encode(request, for: path))
    }

    func send(bytes: [UInt8]) async throws {
        // A caller on the connection's loop, with window to spare, sends without switching
        // executors; so do the other steps of a call below.
        if try connection.ifOnLoop({ try $0.sendNow(streamID, bytes) }) == true { return }
        try await connection.send(streamID, bytes)
    }

    static func encode<Request: WireMessage>(_ request: Request, for path: String) throws -> [UInt8] {
        do {
            return try request.encoded()
        } catch {
            throw RPCError(.invalidArgument, "rpc: request for \(path) cannot be encoded: \(error)")
        }
    }

    func halfClose() async {
        if connection.ifOnLoop({ $0.halfClose(streamID) }) == nil {
            await connection.halfClose(streamID)
        }
    }

    func receive<Response: WireMessage>(_ type: Response.Type) async throws -> Response? {
        let received: [UInt8]?
        switch try connection.ifOnLoop({ try $0.receiveNow(streamID) }) {
        case .message(let bytes)?:
            received = bytes
        case .end?:
            received = nil
        case .wait?, nil:
            received = try await connection.receive(streamID)
        }
        guard let bytes = received else { return nil }
        do {
            return try Response(decoding: bytes)
        } catch {
            throw RPCError(
                .internal, "rpc: response from \(path) is not a valid \(Response.protoName): \(error.reason)")
        }
    }
}

/// The responses of a call, decoded as they are consumed; the sequence ends when the
/// server closes the call with OK and throws its ``RPCError`` otherwise.
public struct RPCResponseStream<Response: WireMessage>: AsyncSequence, Sendable {
    public typealias Element = Response
    let call: ClientCall

    public struct AsyncIterator: AsyncIteratorProtocol {
        let call: ClientCall

        public mutating func next() async throws -> Response? {
            try await call.receive(Response.self)
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(call: call)
    }
}

/// Writes the requests of a streaming call. `write` waits while the server's window is
/// spent. After ``finish()`` (HalfClose) nothing more can be written.
public struct RPCRequestWriter<Request: WireMessage>: Sendable {
    let call: ClientCall

    public func write(_ request: Request) async throws {
        try await call.send(request)
    }

    /// Tells the server no more requests follow.
    public func finish() async {
        await call.halfClose()
    }
}
