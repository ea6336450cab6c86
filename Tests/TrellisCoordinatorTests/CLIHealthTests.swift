import Foundation
import Testing
import TrellisRPC
import TrellisTestSupport

private func run(_ name: String, _ arguments: [String]) async throws -> ProcessOutcome {
    try await runBuiltExecutable(name, arguments)
}

@Suite("trellis health, end to end")
struct CLIHealthTests {
    @Test("prints SERVING and exits 0 against a running coordinator")
    func serving() async throws {
        let trellisd = try TrellisdProcess(dev: TrellisdProcess.temporaryDataDirectory())
        defer { trellisd.removeData() }
        let (api, _) = try await trellisd.waitUntilReady()
        let result = try await run(
            "trellis", ["health", "--server", api.description, "--ca", "\(trellisd.dataDirectory)/ca.pem"])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(result.stdout == "SERVING\n")
        await trellisd.terminate()
    }

    @Test("exits 1 naming UNAVAILABLE when nothing listens")
    func unavailable() async throws {
        let trellisd = try TrellisdProcess(dev: TrellisdProcess.temporaryDataDirectory())
        defer { trellisd.removeData() }
        let (api, _) = try await trellisd.waitUntilReady()
        await trellisd.terminate()
        let result = try await run(
            "trellis", ["health", "--server", api.description, "--ca", "\(trellisd.dataDirectory)/ca.pem"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("UNAVAILABLE"))
        #expect(result.stdout.isEmpty)
    }

    @Test("exits 2 with usage for an unknown command or option")
    func usage() async throws {
        for arguments in [["frobnicate"], ["health", "--bogus"]] {
            let result = try await run("trellis", arguments)
            #expect(result.status == 2)
            #expect(result.stderr.contains("usage: trellis"))
        }
    }
}
