import TrellisTLS
import TrellisTestSupport

/// A server and a client connection over fresh loopback sockets.
struct ConnectedPair: ~Copyable {
    let sockets: LoopbackSockets
    var server: TLSConnection
    var client: TLSConnection

    init(server: TLSServerConfiguration, client: TLSClientConfiguration, bufferSize: Int32? = nil) throws {
        let sockets = try LoopbackSockets(bufferSize: bufferSize)
        let serverContext = try TLSContext.server(server)
        let clientContext = try TLSContext.client(client)
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
}
