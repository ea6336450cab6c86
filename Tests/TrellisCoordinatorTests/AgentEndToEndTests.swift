import Foundation
import Testing
import TrellisTestSupport

/// The quickstart (examples/quickstart.yaml) on a separate trellis-agent process, with a
/// real PostgreSQL server: a port, a database with a schema, a config file holding the
/// database URL, and an HTTP service that reads it and answers its health check.
@Suite("An environment on a separate agent with a real PostgreSQL server", .serialized)
struct AgentEndToEndTests {
    static var quickstartPath: String {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.appendingPathComponent("examples/quickstart.yaml").path
    }

    static func definition(_ server: PostgresServer) -> String {
        """
        apiVersion: trellis.dev/v1
        kind: ResourceDefinition
        metadata: {name: test-postgres}
        spec:
          type: postgres
          driver: postgres-database
          params:
            host: \(server.host)
            port: \(server.port)
            adminUser: \(server.adminUser)
            adminPassword: "\(server.adminPassword)"
        """
    }

    @Test(
        "provision, serve, restart by policy, repair drift, delete: every step through the agent"
    )
    func quickstartOnAgent() async throws {
        try await PostgresServer.withServer { postgres in
            try await AgentCluster.with(extra: ["--agent-heartbeat", "300ms", "--observe-interval", "300ms"]) {
                cluster in
                try await Self.quickstart(postgres, cluster)
            }
        }
    }

    static func quickstart(_ postgres: PostgresServer, _ cluster: AgentCluster) async throws {
        let agentData = cluster.agentDirectory("edge")
        let agent = try cluster.startAgent(
            name: "edge", data: agentData, token: try await cluster.joinToken(), labels: ["region=local"])
        #expect(
            try await eventually(timeout: .seconds(30)) {
                try await cluster.agents()["edge"]?["state"] as? String == "Connected"
            }, "agent log:\n\(agent.log)")

        // Apply: every resource placed on the agent, Ready.
        let definition = try cluster.write(Self.definition(postgres), named: "definition.yaml")
        let apply = try await cluster.trellis(["apply", "-f", definition, "-f", Self.quickstartPath])
        #expect(apply.status == 0, "apply: \(apply.stdout)\n\(apply.stderr)\nagent:\n\(agent.log)")
        let resources = try await cluster.resources("quickstart")
        #expect(resources.keys.sorted() == ["api", "config", "db", "port", "source"])
        for (name, resource) in resources {
            #expect(resource["agent"] as? String == "edge", "\(name)")
            #expect(resource["phase"] as? String == "Ready", "\(name)")
        }
        let dbOutputs = try #require(resources["db"]?["outputs"] as? [String: String])
        #expect(dbOutputs["url"] == "(secret)" && dbOutputs["password"] == "(secret)")
        #expect(dbOutputs["database"] == "quickstart_app")
        let port = try #require(Int(try await cluster.output("quickstart", "port", "port") ?? ""))

        // The database exists with its schema; the config holds its URL.
        #expect(try await postgres.query("SELECT 1 FROM pg_database WHERE datname = 'quickstart_app'") == "1")
        let config = try String(contentsOfFile: "\(agentData)/environments/quickstart/app.env", encoding: .utf8)
        #expect(config.contains("DATABASE_URL=postgresql://") && config.contains("PORT=\(port)"))

        // The service answers, reading the database.
        let first = await httpGet(port: port, path: "/")
        #expect(first?.status == 200, "agent log:\n\(agent.log)")
        #expect(first?.body.contains("\"visits\": \"1\"") == true, "body: \(first?.body ?? "none")")
        #expect(
            try await eventually(timeout: .seconds(30)) {
                (try await cluster.environment("quickstart")?["status"] as? [String: Any])?["health"] as? String
                    == "Healthy"
            })

        // Killed: restarted by its policy (always), and healthy again.
        let pid = try #require(Int32(try await cluster.output("quickstart", "api", "pid") ?? ""))
        kill(pid, SIGKILL)
        #expect(await eventually(timeout: .seconds(30)) { await httpGet(port: port, path: "/healthz")?.status == 200 })
        #expect(!processIsAlive(pid))
        #expect(
            try await eventually(timeout: .seconds(30)) {
                (try await cluster.environment("quickstart")?["status"] as? [String: Any])?["health"] as? String
                    == "Healthy"
            })

        // With `restart: never` a killed service is drift: the coordinator applies it again.
        let never = try String(contentsOfFile: Self.quickstartPath, encoding: .utf8)
            .replacingOccurrences(of: "restart: always", with: "restart: never")
        let reapply = try await cluster.trellis(["apply", "-f", try cluster.write(never, named: "never.yaml")])
        #expect(reapply.status == 0, "\(reapply.stdout)\n\(reapply.stderr)")
        let before = try #require(Int32(try await cluster.output("quickstart", "api", "pid") ?? ""))
        kill(before, SIGKILL)
        let repaired = try await eventually(timeout: .seconds(45)) {
            guard let now = Int32(try await cluster.output("quickstart", "api", "pid") ?? "") else { return false }
            return now != before && processIsAlive(now)
        }
        #expect(repaired, "agent log:\n\(agent.log)\ncoordinator log:\n\(cluster.coordinator.log)")
        #expect(await eventually(timeout: .seconds(30)) { await httpGet(port: port, path: "/")?.status == 200 })
        #expect(
            try await eventually(timeout: .seconds(30)) {
                (try await cluster.environment("quickstart")?["status"] as? [String: Any])?["health"] as? String
                    == "Healthy"
            })
        #expect(cluster.coordinator.log.contains("repairing drift"))

        // Delete: the service stops, the database and its role are dropped.
        let servicePid = try #require(Int32(try await cluster.output("quickstart", "api", "pid") ?? ""))
        let delete = try await cluster.trellis(["delete", "environment", "quickstart"])
        #expect(delete.status == 0, "\(delete.stdout)\n\(delete.stderr)")
        #expect(try await postgres.query("SELECT count(*) FROM pg_database WHERE datname = 'quickstart_app'") == "0")
        #expect(await eventually(timeout: .seconds(10)) { !processIsAlive(servicePid) })
        #expect(try await cluster.environment("quickstart") == nil)
    }
}
