import Dispatch
import Synchronization
import TrellisRPC
import TrellisTLS

/// Makes every simulated agent's client before anything is measured: a fresh EC P-256
/// key, a client certificate for `bench-NNNNN` signed by the coordinator's CA, and an
/// ``RPCClient`` whose TLS context presents it.
///
/// The work is spread over `workers` threads. Each loads its own copy of the CA, so that
/// no OpenSSL key object is shared between threads.
enum Identities {
    /// The name of agent `index` (from 0): `bench-00001`, `bench-00002`, ...
    static func name(_ index: Int) -> String {
        let digits = String(index + 1)
        return "bench-" + String(repeating: "0", count: max(0, 5 - digits.count)) + digits
    }

    static func makeClients(
        count: Int, workers: Int, caPEM: String, caKeyPEM: String, base: RPCClient.Configuration,
        group: EventLoopGroup
    ) throws -> [RPCClient] {
        let made = Mutex<(clients: [Int: RPCClient], failure: String?)>(([:], nil))
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            var mine: [Int: RPCClient] = [:]
            do {
                let authority = try CertificateAuthority(certificatePEM: caPEM, privateKeyPEM: caKeyPEM)
                for index in stride(from: worker, to: count, by: workers) {
                    let issued = try authority.issueClientCertificate(commonName: name(index))
                    var configuration = base
                    configuration.tls.identity = try issued.identity()
                    mine[index] = try RPCClient(configuration: configuration, group: group)
                }
            } catch {
                made.withLock { $0.failure = $0.failure ?? "bench-agents: making agent identities failed: \(error)" }
                return
            }
            made.withLock { state in state.clients.merge(mine) { first, _ in first } }
        }
        let (clients, failure) = made.withLock { ($0.clients, $0.failure) }
        if let failure { throw BenchError(failure) }
        return (0..<count).map { clients[$0]! }
    }
}
