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
        return try decode(Response.self, bytes)
    }

    func decode<Response: WireMessage>(_ type: Response.Type, _ bytes: [UInt8]) throws -> Response {
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
///
/// A reader off the connection's loop takes every response that has arrived in one hop
/// to the loop, and decodes them one by one as it goes.
public struct RPCResponseStream<Response: WireMessage>: AsyncSequence, Sendable {
    public typealias Element = Response
    let call: ClientCall

    /// The most responses taken in one hop.
    static var batchLimit: Int { 256 }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let call: ClientCall
        private var taken: [[UInt8]] = []
        private var position = 0
        private var ended = false
        /// Bytes of `taken` used and not yet reported to the stream, which counts them
        /// consumed (and grants the peer credit) with the next take.
        private var used = 0
        /// Whether the stream counted `taken` consumed when it handed it over.
        private var takenCounted = true

        init(call: ClientCall) { self.call = call }

        public mutating func next() async throws -> Response? {
            if position == taken.count {
                if ended { return nil }
                // On the loop, a message costs no hop: take them one at a time (once what
                // was taken before has been reported).
                if used == 0, call.connection.ifOnLoop({ _ in true }) == true {
                    return try await call.receive(Response.self)
                }
                let report = used
                used = 0
                (taken, ended, takenCounted) = try await call.connection.receiveQueued(
                    call.streamID, limit: RPCResponseStream.batchLimit, used: report)
                position = 0
                if taken.isEmpty { return nil }
            }
            let bytes = taken[position]
            taken[position] = []
            position += 1
            if !takenCounted { used += bytes.count }
            return try call.decode(Response.self, bytes)
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
