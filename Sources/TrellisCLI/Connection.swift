import Glibc
import TrellisCommandLine
import TrellisRPC
import TrellisTLS

/// Where the CLI connects and how it proves who it is: `--server`, `--ca` and `--token`,
/// or `TRELLIS_SERVER`, `TRELLIS_CA` and `TRELLIS_TOKEN`, or the dev defaults
/// (127.0.0.1:7443 and `.trellis/ca.pem`, `.trellis/admin.token`).
struct ConnectionOptions {
    var server: String
    var caPath: String
    var token: String?

    static let usage = """
          --server HOST:PORT   coordinator API address (TRELLIS_SERVER; default 127.0.0.1:7443)
          --ca FILE            CA certificate to trust (TRELLIS_CA; default .trellis/ca.pem)
          --token TOKEN        bearer token (TRELLIS_TOKEN; default: .trellis/admin.token if readable)
        """

    init(scanning scanner: inout ArgumentScanner) throws(UsageError) {
        server = try scanner.value("--server") ?? Self.environment("TRELLIS_SERVER") ?? "127.0.0.1:7443"
        caPath = try scanner.value("--ca") ?? Self.environment("TRELLIS_CA") ?? ".trellis/ca.pem"
        token = try scanner.value("--token") ?? Self.environment("TRELLIS_TOKEN") ?? Self.devToken()
    }

    /// A client for the coordinator.
    func makeClient() throws -> RPCClient {
        let address: SocketAddress
        do {
            address = try SocketAddress(parsing: server)
        } catch {
            throw CLIError("--server: \(error.message)")
        }
        guard let ca = TextFile.read(caPath) else {
            throw CLIError("cannot read the CA certificate \(caPath) (set --ca or TRELLIS_CA)")
        }
        var configuration = RPCClient.Configuration(
            address: address,
            tls: TLSClientConfiguration(serverName: address.host, trustRootsPEM: ca),
            connectTimeout: .seconds(10))
        if let token { configuration.setBearerToken(token) }
        return try RPCClient(configuration: configuration)
    }

    /// Runs `body` with a client, closing the client afterwards whatever happens.
    func withClient<R: Sendable>(_ body: (RPCClient) async throws -> R) async throws -> R {
        let client = try makeClient()
        do {
            let result = try await body(client)
            await client.close()
            return result
        } catch {
            await client.close()
            throw error
        }
    }

    private static func environment(_ name: String) -> String? {
        guard let value = getenv(name) else { return nil }
        let text = String(cString: value)
        return text.isEmpty ? nil : text
    }

    private static func devToken() -> String? {
        TextFile.read(".trellis/admin.token")?.filter { !$0.isWhitespace }
    }
}

/// A failure the CLI reports as `trellis: MESSAGE` and exit status 1.
struct CLIError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Small text files: certificates, tokens.
enum TextFile {
    static func read(_ path: String) -> String? {
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = fread(&chunk, 1, chunk.count, file)
            if count == 0 { break }
            bytes.append(contentsOf: chunk[..<count])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
