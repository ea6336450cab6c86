import Foundation
import Testing
import TrellisAPI
import TrellisRPC
import TrellisTLS
import TrellisTestSupport
import TrellisWire

/// A chain of `count` noop resources and an Environment of it, as one YAML input.
private func chainInput(_ count: Int) -> [UInt8] {
    var text = """
        apiVersion: trellis.dev/v1
        kind: Template
        metadata: {name: long}
        spec:
          resources:

        """
    for index in 0..<count {
        text += index == 0 ? "    r0: {type: noop}\n" : "    r\(index): {type: noop, dependsOn: [r\(index - 1)]}\n"
    }
    text += """
        ---
        apiVersion: trellis.dev/v1
        kind: Environment
        metadata: {name: long}
        spec: {template: long}

        """
    return Array(text.utf8)
}

@Suite("Admission off the RPC loop")
struct AdmissionThreadTests {
    @Test("a call on the same connection is answered while a large plan is being admitted")
    func largePlanDoesNotHoldUpTheLoop() async throws {
        let trellisd = try TrellisdProcess(
            dev: TrellisdProcess.temporaryDataDirectory(), extra: ["--log-level", "debug"])
        defer { trellisd.removeData() }
        let (api, _) = try await trellisd.waitUntilReady()
        let ca = try String(contentsOfFile: "\(trellisd.dataDirectory)/ca.pem", encoding: .utf8)
        let token = try String(contentsOfFile: "\(trellisd.dataDirectory)/admin.token", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        var configuration = RPCClient.Configuration(
            address: api, tls: TLSClientConfiguration(serverName: "127.0.0.1", trustRootsPEM: ca),
            connectTimeout: .seconds(10))
        configuration.setBearerToken(token)
        // One client, so one connection: the server reads and dispatches both calls on the
        // same loop thread.
        let client = try RPCClient(configuration: configuration)
        _ = try await client.unary(TrellisV1.HealthService.check, TrellisV1.HealthCheckRequest())

        let files = [TrellisV1.SourceFile(name: "long.yaml", content: chainInput(10_000))]
        let started = ContinuousClock.now
        let plan = Task {
            let response = try await client.unary(
                TrellisV1.EnvironmentService.plan, TrellisV1.PlanRequest(files: files))
            return (response, ContinuousClock.now - started)
        }
        let admitting = await eventually(timeout: .seconds(60)) { trellisd.log.contains("msg=\"admitting\"") }
        try #require(admitting, "the plan never reached admission; log:\n\(trellisd.log)")
        let checkStarted = ContinuousClock.now
        let health = try await client.unary(TrellisV1.HealthService.check, TrellisV1.HealthCheckRequest())
        let checkTook = ContinuousClock.now - checkStarted
        let (planned, planTook) = try await plan.value

        #expect(health.status == .serving)
        #expect(planned.environments.first?.resources.count == 10_000)
        // Decoding 10,000 resources alone is a large share of the plan's time: a check that
        // waited for the loop thread to finish it would take a good part of the plan's.
        #expect(
            checkTook * 10 < planTook,
            "the health check took \(checkTook) while the plan took \(planTook); log:\n\(trellisd.log.suffix(2000))")
        await client.close()
        #expect(await trellisd.terminate() == 0)
    }
}
