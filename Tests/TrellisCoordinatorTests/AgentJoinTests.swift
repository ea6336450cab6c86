import Foundation
import Testing
import TrellisTestSupport

@Suite("trellis-agent joins the coordinator with a single-use token", .serialized)
struct AgentJoinTests {
    @Test("a good token: the agent stores its key, certificate and CA, connects, and later starts need no token")
    func goodToken() async throws {
        try await AgentCluster.with(extra: ["--agent-heartbeat", "200ms"]) { cluster in
            let token = try await cluster.joinToken(["--label", "region=eu", "--ttl", "10m"])
            #expect(token.split(separator: ".").count == 3, "token \(token)")
            #expect(!token.contains("\n"))

            let data = cluster.agentDirectory("edge-1")
            let agent = try cluster.startAgent(name: "edge-1", data: data, token: token, labels: ["zone=a"])
            let connected = try await eventually(timeout: .seconds(30)) {
                try await cluster.agents()["edge-1"]?["state"] as? String == "Connected"
            }
            #expect(connected, "agent log:\n\(agent.log)")
            let listed = try #require(try await cluster.agents()["edge-1"])
            #expect(listed["labels"] as? [String: String] == ["region": "eu", "zone": "a"])
            #expect((listed["drivers"] as? [String])?.contains("process") == true)

            var status = stat()
            #expect(stat("\(data)/agent.key", &status) == 0 && status.st_mode & 0o777 == 0o600)
            for file in ["agent.pem", "ca.pem"] { #expect(FileManager.default.fileExists(atPath: "\(data)/\(file)")) }
            await agent.terminate()
            #expect(
                try await eventually(timeout: .seconds(20)) {
                    try await cluster.agents()["edge-1"]?["state"] as? String == "Disconnected"
                })

            // Later starts need no token.
            let again = try cluster.startAgent(name: "edge-1", data: data, token: nil)
            #expect(
                try await eventually(timeout: .seconds(30)) {
                    try await cluster.agents()["edge-1"]?["state"] as? String == "Connected"
                }, "agent log:\n\(again.log)")
            await again.terminate()

            // The token is spent: another host cannot use it.
            let reuse = try cluster.startAgent(name: "edge-2", data: cluster.agentDirectory("edge-2"), token: token)
            #expect(await reuse.waitForExit() == 1)
            #expect(reuse.log.contains("already used"), "log: \(reuse.log)")
            #expect(try await cluster.agents()["edge-2"] == nil)
        }
    }

    @Test("expired, unknown and malformed tokens are refused and nothing is written")
    func badTokens() async throws {
        try await AgentCluster.with() { cluster in
            let expiring = try await cluster.joinToken(["--ttl", "1s"])
            let created = ContinuousClock.now
            let good = try await cluster.joinToken()
            var parts = good.split(separator: ".").map(String.init)
            parts[1] = String(repeating: "0", count: parts[1].count)
            let unknown = parts.joined(separator: ".")

            // Wait for the clock, not for the system: the token's lifetime must have passed.
            _ = await eventually(timeout: .seconds(10)) { ContinuousClock.now - created > .milliseconds(1500) }
            let cases: [(String, String, Int32)] = [
                (expiring, "expired", 1), (unknown, "not known", 1), ("nonsense", "ID.SECRET.FINGERPRINT", 2),
            ]
            for (token, expected, status) in cases {
                let data = cluster.agentDirectory("bad")
                let agent = try cluster.startAgent(name: "bad-agent", data: data, token: token)
                #expect(await agent.waitForExit() == status, "token \(token)")
                #expect(agent.log.contains(expected), "token \(token): \(agent.log)")
                #expect(!FileManager.default.fileExists(atPath: "\(data)/agent.pem"))
            }
            #expect(try await cluster.agents().isEmpty)
        }
    }

    @Test("a token whose CA fingerprint differs from the coordinator's CA is refused before the token is sent")
    func wrongCA() async throws {
        try await AgentCluster.with() { cluster in
            let token = try await cluster.joinToken()
            var parts = token.split(separator: ".").map(String.init)
            parts[2] = String(repeating: "a", count: 64)
            let data = cluster.agentDirectory("mitm")
            let agent = try cluster.startAgent(name: "edge-9", data: data, token: parts.joined(separator: "."))
            #expect(await agent.waitForExit() == 1)
            #expect(agent.log.contains("fingerprint"), "log: \(agent.log)")
            #expect(!FileManager.default.fileExists(atPath: "\(data)/agent.pem"))

            // The token was never used, so the right fingerprint still works.
            let honest = try cluster.startAgent(name: "edge-9", data: cluster.agentDirectory("honest"), token: token)
            #expect(
                try await eventually(timeout: .seconds(30)) {
                    try await cluster.agents()["edge-9"]?["state"] as? String == "Connected"
                }, "log: \(honest.log)")
            await honest.terminate()
        }
    }

    @Test("a second agent claiming an existing agent's name with a different key is refused")
    func duplicateName() async throws {
        try await AgentCluster.with() { cluster in
            let first = try cluster.startAgent(
                name: "shared-name", data: cluster.agentDirectory("one"), token: try await cluster.joinToken())
            #expect(
                try await eventually(timeout: .seconds(30)) {
                    try await cluster.agents()["shared-name"]?["state"] as? String == "Connected"
                }, "log: \(first.log)")
            let secondToken = try await cluster.joinToken()
            let second = try cluster.startAgent(
                name: "shared-name", data: cluster.agentDirectory("two"), token: secondToken)
            #expect(await second.waitForExit() == 1)
            #expect(second.log.contains("already registered"), "log: \(second.log)")
            #expect(try await cluster.agents()["shared-name"]?["state"] as? String == "Connected")
            await first.terminate()
        }
    }
}
