import TrellisTLS
import TrellisTestSupport

/// A server and a client connection over fresh loopback sockets.
struct ConnectedPair: ~Copyable {
    let sockets: LoopbackSockets
    var server: TLSConnection
    var client: TLSConnection

    init(server: TLSServerConfiguration, client: TLSClientConfiguration, bufferSize: Int32? = nil) throws {
        try self.init(
            serverContext: TLSContext.server(server), clientContext: TLSContext.client(client), bufferSize: bufferSize)
    }

    /// A pair from contexts that outlive it, as a listener's and a dialer's do.
    init(serverContext: TLSContext, clientContext: TLSContext, bufferSize: Int32? = nil) throws {
        let sockets = try LoopbackSockets(bufferSize: bufferSize)
        let serverConnection = try TLSConnection(
            context: serverContext, fileDescriptor: sockets.server, role: .server,
            peerDescription: sockets.clientAddress)
        let clientConnection = try TLSConnection(
            context: clientContext, fileDescriptor: sockets.client, role: .client,
            peerDescription: sockets.serverAddress)
        self.server = serverConnection
        self.client = clientConnection
        self.sockets = sockets
    }

    /// Runs both handshakes to their end.
    mutating func handshake() -> HandshakeOutcome {
        TrellisTLSTests.handshake(&server, &client, over: sockets)
    }

    /// The server writes one byte and the client reads it, which also has the client
    /// read what the server sent after the handshake (TLS 1.3 session tickets). Returns
    /// whether the byte arrived.
    mutating func exchangeByte() -> Bool {
        var wrote = false
        var read = false
        var buffer = [UInt8](repeating: 0, count: 16)
        drive(
            sockets.server,
            {
                if wrote { return .done }
                if case .wrote = [UInt8(7)].withUnsafeBytes({ server.write($0) }) { wrote = true }
                return wrote ? .done : .wantWrite
            },
            sockets.client,
            {
                switch buffer.withUnsafeMutableBytes({ client.read(into: $0) }) {
                case .bytes: read = true
                case .wantRead: return .wantRead
                case .wantWrite: return .wantWrite
                case .closed, .failed: return .failed
                }
                return .done
            })
        return wrote && read
    }
}
