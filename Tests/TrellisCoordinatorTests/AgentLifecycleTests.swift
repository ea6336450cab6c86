import Foundation
import Testing
import TrellisRPC
import TrellisTestSupport

@Suite("Agents that stop, vanish and come back", .serialized)
struct AgentLifecycleTests {
    static func state(_ cluster: AgentCluster, _ name: String) async throws -> String? {
        try await cluster.agents()[name]?["state"] as? String
    }

    @Test("an agent silent past the grace period is Unreachable, its resources Unknown, then Connected again")
    func unreachable() async throws {
        try await AgentCluster.with(extra: [
            "--agent-heartbeat", "200ms", "--agent-grace", "1500ms", "--observe-interval", "200ms",
        ]) { cluster in
            let agent = try cluster.startAgent(
                name: "flaky", data: cluster.agentDirectory("flaky"), token: try await cluster.joinToken())
            #expect(
                try await eventually(timeout: .seconds(30)) { try await Self.state(cluster, "flaky") == "Connected" })
            let spec = try cluster.write(
                """
                apiVersion: trellis.dev/v1
                kind: Template
                metadata: {name: notes}
                spec:
                  resources:
                    note: {type: file, params: {path: note.txt, content: "hello\\n"}}
                ---
                apiVersion: trellis.dev/v1
                kind: Environment
                metadata: {name: notes}
                spec: {template: notes}
                """)
            let apply = try await cluster.trellis(["apply", "-f", spec])
            #expect(apply.status == 0, "\(apply.stdout)\n\(apply.stderr)")
            #expect(
                try await eventually(timeout: .seconds(20)) {
                    try await cluster.resources("notes")["note"]?["health"] as? String == "Healthy"
                })

            // Stopped, the agent sends nothing: its connection looks alive but it is silent.
            kill(agent.process.processIdentifier, SIGSTOP)
            #expect(
                try await eventually(timeout: .seconds(20)) { try await Self.state(cluster, "flaky") == "Unreachable" })
            let note = try #require(try await cluster.resources("notes")["note"])
            #expect(note["health"] as? String == "Unknown")
            #expect((note["healthMessage"] as? String)?.contains("unreachable") == true)
            #expect(note["phase"] as? String == "Ready", "an unreachable host's resources are not deleted")

            kill(agent.process.processIdentifier, SIGCONT)
            #expect(
                try await eventually(timeout: .seconds(30)) { try await Self.state(cluster, "flaky") == "Connected" })
            #expect(
                try await eventually(timeout: .seconds(20)) {
                    try await cluster.resources("notes")["note"]?["health"] as? String == "Healthy"
                })
        }
    }

    @Test("an agent killed mid-apply and restarted: the apply completes and nothing is duplicated")
    func killedMidApply() async throws {
        try await AgentCluster.with(extra: ["--agent-heartbeat", "200ms", "--agent-grace", "30s"]) { cluster in
            let data = cluster.agentDirectory("worker")
            let token = try await cluster.joinToken()
            var agent = try cluster.startAgent(name: "worker", data: data, token: token)
            #expect(
                try await eventually(timeout: .seconds(30)) { try await Self.state(cluster, "worker") == "Connected" })

            // `slow` takes a while; `sleeper` is a service that must exist exactly once.
            let marker = "trellis-test-sleeper-\(UInt32.random(in: 0...UInt32.max))"
            let script = try cluster.write(
                """
                #!/bin/sh
                # Applies idempotently: counts runs, marks that one started, takes 3 seconds.
                echo run >> runs.log
                touch started
                sleep 3
                echo '{"outputs": {"done": "yes"}}'
                """, named: "slow.sh")
            chmod(script, 0o755)
            let spec = try cluster.write(
                """
                apiVersion: trellis.dev/v1
                kind: Template
                metadata: {name: midway}
                spec:
                  resources:
                    sleeper:
                      type: process
                      params: {command: [python3, -c, "import time; time.sleep(1000)", "\(marker)"], restart: always}
                    slow: {type: exec, params: {apply: ["\(script)"]}}
                    after: {type: file, dependsOn: [slow, sleeper], params: {path: after.txt, content: "done\\n"}}
                ---
                apiVersion: trellis.dev/v1
                kind: Environment
                metadata: {name: midway}
                spec: {template: midway}
                """)
            let environmentDirectory = "\(data)/environments/midway"
            let applying = Task { try await cluster.trellis(["apply", "-f", spec]) }
            #expect(
                await eventually(timeout: .seconds(30)) {
                    FileManager.default.fileExists(atPath: "\(environmentDirectory)/started")
                        && processes(containing: marker).count == 1
                })
            await agent.killHard()

            agent = try cluster.startAgent(name: "worker", data: data, token: nil)
            let outcome = try await applying.value
            #expect(outcome.status == 0, "\(outcome.stdout)\n\(outcome.stderr)\nagent:\n\(agent.log)")
            let resources = try await cluster.resources("midway")
            #expect(resources.values.allSatisfy { $0["phase"] as? String == "Ready" })
            #expect((resources["slow"]?["outputs"] as? [String: String])?["done"] == "yes")
            #expect(processes(containing: marker).count == 1, "one sleeper, not two; agent log:\n\(agent.log)")
            #expect(
                try String(contentsOfFile: "\(environmentDirectory)/after.txt", encoding: .utf8) == "done\n")
            let runs = try String(contentsOfFile: "\(environmentDirectory)/runs.log", encoding: .utf8)
            #expect((1...2).contains(runs.split(separator: "\n").count), "runs: \(runs)")

            let delete = try await cluster.trellis(["delete", "environment", "midway"])
            #expect(delete.status == 0, "\(delete.stdout)\n\(delete.stderr)")
            #expect(await eventually(timeout: .seconds(10)) { processes(containing: marker).isEmpty })
        }
    }

    @Test("trellisd --dev runs the agent `local` in process: real resources need nothing else")
    func localAgent() async throws {
        let trellisd = try TrellisdProcess(dev: TrellisdProcess.temporaryDataDirectory())
        defer { trellisd.removeData() }
        let (api, _) = try await trellisd.waitUntilReady()
        let token = try String(contentsOfFile: "\(trellisd.dataDirectory)/admin.token", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let environment = [
            "TRELLIS_SERVER": api.description, "TRELLIS_CA": "\(trellisd.dataDirectory)/ca.pem",
            "TRELLIS_TOKEN": token,
        ]
        #expect(
            try await eventually(timeout: .seconds(30)) {
                let outcome = try await runBuiltExecutable("trellis", ["get", "agents"], environment: environment)
                return outcome.stdout.contains("local") && outcome.stdout.contains("Connected")
            })
        let path = FileManager.default.temporaryDirectory.path + "/local-\(UInt32.random(in: 0...UInt32.max)).yaml"
        try """
        apiVersion: trellis.dev/v1
        kind: Template
        metadata: {name: local-files}
        spec:
          resources:
            port: {type: port}
            config: {type: file, params: {path: app.env, content: "PORT=${resources.port.outputs.port}\\n"}}
        ---
        apiVersion: trellis.dev/v1
        kind: Environment
        metadata: {name: local-files}
        spec: {template: local-files, placement: {agent: {region: local}}}
        """.write(toFile: path, atomically: true, encoding: .utf8)
        let apply = try await runBuiltExecutable("trellis", ["apply", "-f", path], environment: environment)
        #expect(apply.status == 0, "\(apply.stdout)\n\(apply.stderr)\n\(trellisd.log)")
        let config = try String(
            contentsOfFile: "\(trellisd.dataDirectory)/agent/environments/local-files/app.env", encoding: .utf8)
        #expect(config.hasPrefix("PORT="))
        let get = try await runBuiltExecutable(
            "trellis", ["get", "environment", "local-files"], environment: environment)
        #expect(get.stdout.contains("local"))
        await trellisd.terminate()

        // Started again on the same data, the local agent is the same agent (same key).
        let again = try TrellisdProcess(
            arguments: [
                "--dev", "--data", trellisd.dataDirectory, "--listen", "127.0.0.1:0", "--agent-listen", "127.0.0.1:0",
            ],
            dataDirectory: trellisd.dataDirectory)
        let (secondAPI, _) = try await again.waitUntilReady()
        var secondEnvironment = environment
        secondEnvironment["TRELLIS_SERVER"] = secondAPI.description
        let reconnected = try await eventually(timeout: .seconds(30)) {
            let outcome = try await runBuiltExecutable(
                "trellis", ["get", "agents", "-o", "json"], environment: secondEnvironment)
            return outcome.stdout.contains("\"Connected\"")
        }
        #expect(reconnected, "log:\n\(again.log)")
        #expect(!again.log.contains("already registered"))
        await again.terminate()
    }
}
