import Dispatch
import Synchronization
import Testing
import TrellisTLS
import TrellisTestSupport

@Suite("Contexts shared between threads")
struct SharedContextTests {
    @Test("one server and one client context serve handshakes on several threads at once")
    func concurrentHandshakes() throws {
        let pki = try TestPKI()
        defer { pki.removeFiles() }
        let serverContext = try TLSContext.server(pki.serverConfiguration())
        let clientContext = try TLSContext.client(pki.clientConfiguration(identity: pki.client))
        let completed = Atomic<Int>(0)

        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            guard let sockets = try? LoopbackSockets(),
                var server = try? TLSConnection(
                    context: serverContext, fileDescriptor: sockets.server, role: .server,
                    peerDescription: sockets.clientAddress),
                var client = try? TLSConnection(
                    context: clientContext, fileDescriptor: sockets.client, role: .client,
                    peerDescription: sockets.serverAddress)
            else { return }
            let outcome = handshake(&server, &client, over: sockets)
            if outcome.server == .complete, outcome.client == .complete, server.peerCertificate != nil {
                completed.add(1, ordering: .relaxed)
            }
        }
        #expect(completed.load(ordering: .relaxed) == 8)
    }
}
