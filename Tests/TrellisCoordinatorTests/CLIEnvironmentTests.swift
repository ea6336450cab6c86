import Foundation
import Testing
import TrellisRPC
import TrellisTestSupport

/// Runs `trellis` against a coordinator and returns its status and output.
private func trellis(_ arguments: [String], server: TrellisdProcess, api: SocketAddress) async throws -> ProcessOutcome
{
    let token = try String(contentsOfFile: "\(server.dataDirectory)/admin.token", encoding: .utf8)
        .trimmingCharacters(in: .whitespacesAndNewlines)
    return try await runBuiltExecutable(
        "trellis", arguments,
        environment: [
            "TRELLIS_SERVER": api.description, "TRELLIS_CA": "\(server.dataDirectory)/ca.pem", "TRELLIS_TOKEN": token,
        ])
}

private func write(_ text: String) throws -> String {
    let path = FileManager.default.temporaryDirectory.path + "/spec-\(UInt64.random(in: 0...UInt64.max)).yaml"
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

private let spec = """
    apiVersion: trellis.dev/v1
    kind: Template
    metadata: {name: cli}
    spec:
      resources:
        first: {type: noop, params: {outputs: {k: "v"}}}
        second: {type: noop, dependsOn: [first]}
    ---
    apiVersion: trellis.dev/v1
    kind: Environment
    metadata: {name: cli-env, team: tools}
    spec: {template: cli, ttl: 2h}
    """

private func jsonObjects(_ text: String) throws -> [[String: Any]] {
    try text.split(separator: "\n").map {
        try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
    }
}

@Suite("trellis apply, get, plan and delete, end to end")
struct CLIEnvironmentTests {
    @Test("apply -o json prints one event per line and exits 0 once the environment is Ready")
    func applyJSON() async throws {
        let server = try TrellisdProcess(dev: TrellisdProcess.temporaryDataDirectory())
        defer { server.removeData() }
        let (api, _) = try await server.waitUntilReady()
        let file = try write(spec)
        let result = try await trellis(["apply", "-f", file, "-o", "json"], server: server, api: api)
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let events = try jsonObjects(result.stdout)
        for event in events {
            let time = try #require(event["time"] as? String)
            #expect(time.count == 24 && time.hasSuffix("Z"), "time \(time)")
            #expect(event["event"] is String && event["phase"] is String)
        }
        let ready = events.filter { $0["event"] as? String == "resource_ready" }
        #expect(ready.compactMap { $0["resource"] as? String }.sorted() == ["first", "second"])
        let last = try #require(events.last)
        #expect(last["event"] as? String == "environment_phase")
        #expect(last["phase"] as? String == "Ready")
        #expect(last["resource"] == nil)

        let get = try await trellis(["get", "environment", "cli-env", "-o", "json"], server: server, api: api)
        #expect(get.status == 0)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(get.stdout.utf8)) as? [String: Any])
        let status = try #require(object["status"] as? [String: Any])
        #expect(status["phase"] as? String == "Ready")
        let resources = try #require(status["resources"] as? [[String: Any]])
        #expect(resources.map { $0["name"] as? String } == ["first", "second"])
        for resource in resources {
            for key in ["name", "type", "phase", "outputs", "startedAt", "finishedAt", "attempts"] {
                #expect(resource[key] != nil, "\(key) missing")
            }
        }
        #expect(object["remaining"] is String)

        let list = try await trellis(["get", "environments"], server: server, api: api)
        #expect(list.stdout.contains("cli-env") && list.stdout.contains("Ready"))

        let delete = try await trellis(["delete", "environment", "cli-env"], server: server, api: api)
        #expect(delete.status == 0, "stderr: \(delete.stderr)")
        #expect(delete.stdout.contains("Deleted"))
        let gone = try await trellis(["get", "environment", "cli-env"], server: server, api: api)
        #expect(gone.status == 1)
        #expect(gone.stderr.contains("NOT_FOUND"))
        await server.terminate()
    }

    @Test("an environment that fails makes apply exit 1")
    func applyFailure() async throws {
        let server = try TrellisdProcess(dev: TrellisdProcess.temporaryDataDirectory())
        defer { server.removeData() }
        let (api, _) = try await server.waitUntilReady()
        let file = try write(spec.replacingOccurrences(of: "outputs: {k: \"v\"}", with: "fail: \"no capacity\""))
        let result = try await trellis(["apply", "-f", file], server: server, api: api)
        #expect(result.status == 1)
        #expect(result.stdout.contains("no capacity"))
        #expect(result.stdout.contains("cli-env: Failed"))
        await server.terminate()
    }

    @Test("a broken spec is refused with every problem listed, exit 1, and nothing stored")
    func brokenSpec() async throws {
        let server = try TrellisdProcess(dev: TrellisdProcess.temporaryDataDirectory())
        defer { server.removeData() }
        let (api, _) = try await server.waitUntilReady()
        let file = try write(
            spec.replacingOccurrences(of: "dependsOn: [first]", with: "dependsOn: [frist]")
                .replacingOccurrences(of: "{template: cli, ttl: 2h}", with: "{template: cli, ttl: soon}"))
        let result = try await trellis(["apply", "-f", file], server: server, api: api)
        #expect(result.status == 1)
        #expect(result.stderr.contains("INVALID_ARGUMENT"))
        #expect(result.stderr.contains("frist"))
        #expect(result.stderr.contains("spec.ttl"))
        let templates = try await trellis(["get", "templates"], server: server, api: api)
        #expect(!templates.stdout.contains("cli"))
        await server.terminate()
    }

    @Test("plan shows the actions and changes nothing")
    func plan() async throws {
        let server = try TrellisdProcess(dev: TrellisdProcess.temporaryDataDirectory())
        defer { server.removeData() }
        let (api, _) = try await server.waitUntilReady()
        let file = try write(spec)
        let result = try await trellis(["plan", "-f", file], server: server, api: api)
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(result.stdout.contains("2 to create in 2 layers"))
        let list = try await trellis(["get", "environments", "-o", "json"], server: server, api: api)
        #expect(list.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "[]")
        let apply = try await trellis(["apply", "-f", file], server: server, api: api)
        #expect(apply.status == 0, "stderr: \(apply.stderr)")
        let again = try await trellis(["plan", "-f", file], server: server, api: api)
        #expect(again.stdout.contains("2 unchanged in 2 layers"), "\(again.stdout)")
        await server.terminate()
    }
}
