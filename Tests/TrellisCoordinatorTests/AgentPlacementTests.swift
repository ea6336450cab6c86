import Foundation
import Testing
import TrellisTestSupport

@Suite("Placement by agent labels, and drift under reconcile auto and report", .serialized)
struct AgentPlacementTests {
    static func connected(_ cluster: AgentCluster, _ names: [String]) async throws -> Bool {
        let agents = try await cluster.agents()
        return names.allSatisfy { agents[$0]?["state"] as? String == "Connected" }
    }

    @Test("an environment's placement picks the agent; a resource's own placement overrides it; no match fails clearly")
    func placement() async throws {
        try await AgentCluster.with(extra: ["--placement-wait", "300ms", "--agent-heartbeat", "200ms"]) { cluster in
            _ = try cluster.startAgent(
                name: "eu-1", data: cluster.agentDirectory("eu"), token: try await cluster.joinToken(),
                labels: ["region=eu"])
            _ = try cluster.startAgent(
                name: "us-1", data: cluster.agentDirectory("us"), token: try await cluster.joinToken(),
                labels: ["region=us"])
            #expect(
                try await eventually(timeout: .seconds(30)) { try await Self.connected(cluster, ["eu-1", "us-1"]) })
            let spec = try cluster.write(
                """
                apiVersion: trellis.dev/v1
                kind: Template
                metadata: {name: spread}
                spec:
                  resources:
                    port: {type: port}
                    config: {type: file, params: {path: app.env, content: "PORT=${resources.port.outputs.port}\\n"}}
                    mirror: {type: file, placement: {agent: {region: eu}}, params: {path: mirror.txt, content: "m\\n"}}
                ---
                apiVersion: trellis.dev/v1
                kind: Environment
                metadata: {name: spread}
                spec: {template: spread, placement: {agent: {region: us}}}
                """)
            let apply = try await cluster.trellis(["apply", "-f", spec])
            #expect(apply.status == 0, "\(apply.stdout)\n\(apply.stderr)")
            let resources = try await cluster.resources("spread")
            #expect(resources["port"]?["agent"] as? String == "us-1")
            #expect(resources["config"]?["agent"] as? String == "us-1")
            #expect(resources["mirror"]?["agent"] as? String == "eu-1")

            let nowhere = try cluster.write(
                """
                apiVersion: trellis.dev/v1
                kind: Template
                metadata: {name: nowhere}
                spec:
                  resources:
                    note: {type: file, params: {path: n.txt, content: "n\\n"}}
                ---
                apiVersion: trellis.dev/v1
                kind: Environment
                metadata: {name: nowhere}
                spec: {template: nowhere, placement: {agent: {region: mars}}}
                """)
            let refused = try await cluster.trellis(["apply", "-f", nowhere])
            #expect(refused.status == 1)
            #expect(
                refused.stdout.contains("no connected agent with labels {region: mars} serves driver file"),
                "\(refused.stdout)")
        }
    }

    static func drifting(_ reconcile: String) -> String {
        """
        apiVersion: trellis.dev/v1
        kind: Template
        metadata: {name: watched}
        spec:
          resources:
            note: {type: file, params: {path: note.txt, content: "as applied\\n"}}
        ---
        apiVersion: trellis.dev/v1
        kind: Environment
        metadata: {name: watched-\(reconcile)}
        spec: {template: watched, reconcile: \(reconcile)}
        """
    }

    @Test("reconcile auto: a file changed behind the agent's back is applied again, and only it")
    func reconcileAuto() async throws {
        try await AgentCluster.with(extra: ["--observe-interval", "200ms"]) { cluster in
            let data = cluster.agentDirectory("watcher")
            _ = try cluster.startAgent(name: "watcher", data: data, token: try await cluster.joinToken())
            let apply = try await cluster.trellis(["apply", "-f", try cluster.write(Self.drifting("auto"))])
            #expect(apply.status == 0, "\(apply.stdout)\n\(apply.stderr)")
            let path = "\(data)/environments/watched-auto/note.txt"
            try "tampered\n".write(toFile: path, atomically: false, encoding: .utf8)
            #expect(
                await eventually(timeout: .seconds(20)) {
                    (try? String(contentsOfFile: path, encoding: .utf8)) == "as applied\n"
                })
            #expect(cluster.coordinator.log.contains("repairing drift"))
            let note = try #require(try await cluster.resources("watched-auto")["note"])
            #expect(note["phase"] as? String == "Ready")
        }
    }

    @Test("reconcile report: a changed file is marked Drifted and left alone; matching again, it is Ready")
    func reconcileReport() async throws {
        try await AgentCluster.with(extra: ["--observe-interval", "200ms"]) { cluster in
            let data = cluster.agentDirectory("reporter")
            _ = try cluster.startAgent(name: "reporter", data: data, token: try await cluster.joinToken())
            let apply = try await cluster.trellis(["apply", "-f", try cluster.write(Self.drifting("report"))])
            #expect(apply.status == 0, "\(apply.stdout)\n\(apply.stderr)")
            let path = "\(data)/environments/watched-report/note.txt"
            try "tampered\n".write(toFile: path, atomically: false, encoding: .utf8)
            #expect(
                try await eventually(timeout: .seconds(20)) {
                    try await cluster.resources("watched-report")["note"]?["phase"] as? String == "Drifted"
                })
            let note = try #require(try await cluster.resources("watched-report")["note"])
            #expect((note["drift"] as? String)?.isEmpty == false)
            let status = try #require(try await cluster.environment("watched-report")?["status"] as? [String: Any])
            #expect(status["health"] as? String == "Degraded")
            #expect(try String(contentsOfFile: path, encoding: .utf8) == "tampered\n", "report mode repairs nothing")

            try "as applied\n".write(toFile: path, atomically: false, encoding: .utf8)
            #expect(
                try await eventually(timeout: .seconds(20)) {
                    try await cluster.resources("watched-report")["note"]?["phase"] as? String == "Ready"
                })
        }
    }

    @Test("apply again repairs a resource marked Drifted; drift reported during an operation is repaired after it")
    func driftAndOperations() async throws {
        try await AgentCluster.with(extra: ["--observe-interval", "200ms"]) { cluster in
            let data = cluster.agentDirectory("mender")
            _ = try cluster.startAgent(name: "mender", data: data, token: try await cluster.joinToken())

            // reconcile: report, then apply again: the drifted resource is applied again.
            let report = try cluster.write(Self.drifting("report"))
            #expect(try await cluster.trellis(["apply", "-f", report]).status == 0)
            let reportPath = "\(data)/environments/watched-report/note.txt"
            try "tampered\n".write(toFile: reportPath, atomically: false, encoding: .utf8)
            #expect(
                try await eventually(timeout: .seconds(20)) {
                    try await cluster.resources("watched-report")["note"]?["phase"] as? String == "Drifted"
                })
            let again = try await cluster.trellis(["apply", "-f", report])
            #expect(again.status == 0, "\(again.stdout)\n\(again.stderr)")
            #expect(try String(contentsOfFile: reportPath, encoding: .utf8) == "as applied\n")

            // reconcile: auto, with an operation running when the drift is found.
            let script = try cluster.write(
                "#!/bin/sh\ntouch slow-started\nsleep 2\necho '{}'\n", named: "slow.sh")
            chmod(script, 0o755)
            let auto = try cluster.write(Self.drifting("auto"))
            #expect(try await cluster.trellis(["apply", "-f", auto]).status == 0)
            let slower = try cluster.write(
                Self.drifting("auto").replacingOccurrences(
                    of: "note: {type: file",
                    with: "slow: {type: exec, params: {apply: [\"\(script)\"]}}\n    note: {type: file"))
            let applying = Task { try await cluster.trellis(["apply", "-f", slower]) }
            let autoDirectory = "\(data)/environments/watched-auto"
            #expect(
                await eventually(timeout: .seconds(20)) {
                    FileManager.default.fileExists(atPath: "\(autoDirectory)/slow-started")
                })
            try "tampered\n".write(toFile: "\(autoDirectory)/note.txt", atomically: false, encoding: .utf8)
            #expect(try await applying.value.status == 0)
            #expect(
                await eventually(timeout: .seconds(20)) {
                    (try? String(contentsOfFile: "\(autoDirectory)/note.txt", encoding: .utf8)) == "as applied\n"
                }, "coordinator log:\n\(cluster.coordinator.log)")
        }
    }
}
