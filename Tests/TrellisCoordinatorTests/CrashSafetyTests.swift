import Foundation
import Testing
import TrellisAPI
import TrellisRPC
import TrellisTLS
import TrellisTestSupport
import TrellisWire

/// A chain, so that exactly one step is in flight at any moment: a kill right after a
/// persisted transition then never lands between a driver finishing and its result
/// being recorded, and every resource must be applied exactly once.
private let chain = """
    apiVersion: trellis.dev/v1
    kind: Template
    metadata: {name: chain}
    spec:
      resources:
        r1: {type: noop, params: {outputs: {v: "1"}}}
        r2: {type: noop, params: {outputs: {v: "${resources.r1.outputs.v}2"}}}
        r3: {type: noop, params: {outputs: {v: "${resources.r2.outputs.v}3"}}}
        r4: {type: noop, params: {outputs: {v: "${resources.r3.outputs.v}4"}}}
    ---
    apiVersion: trellis.dev/v1
    kind: Environment
    metadata: {name: crashy}
    spec: {template: chain}
    """

private func client(_ address: SocketAddress, _ directory: String) throws -> RPCClient {
    let ca = try String(contentsOfFile: "\(directory)/ca.pem", encoding: .utf8)
    let token = try String(contentsOfFile: "\(directory)/admin.token", encoding: .utf8)
        .trimmingCharacters(in: .whitespacesAndNewlines)
    var configuration = RPCClient.Configuration(
        address: address, tls: TLSClientConfiguration(serverName: "127.0.0.1", trustRootsPEM: ca),
        connectTimeout: .seconds(10))
    configuration.setBearerToken(token)
    return try RPCClient(configuration: configuration)
}

/// Streams a call to completion, or until the server dies; returns whether it completed.
private func runToEnd(_ client: RPCClient, apply files: [TrellisV1.SourceFile]) async -> Bool {
    do {
        try await client.serverStreaming(TrellisV1.EnvironmentService.apply, TrellisV1.ApplyRequest(files: files)) {
            events in
            for try await _ in events {}
        }
        return true
    } catch {
        return false
    }
}

private func deleteToEnd(_ client: RPCClient, _ name: String) async -> Bool {
    do {
        try await client.serverStreaming(
            TrellisV1.EnvironmentService.delete, TrellisV1.DeleteEnvironmentRequest(name: name)
        ) { events in
            for try await _ in events {}
        }
        return true
    } catch {
        return false
    }
}

/// Polls Get until `condition` holds for the environment (nil: it does not exist).
private func waitFor(
    _ client: RPCClient, _ name: String, timeout: Duration = .seconds(30),
    _ condition: (TrellisV1.EnvironmentStatus?) -> Bool
) async -> TrellisV1.EnvironmentStatus? {
    var last: TrellisV1.EnvironmentStatus?
    _ = await eventually(timeout: timeout, poll: .milliseconds(25)) {
        do {
            last = try await client.unary(TrellisV1.EnvironmentService.get, TrellisV1.GetEnvironmentRequest(name: name))
        } catch let error as RPCError where error.code == .notFound {
            last = nil
        } catch {
            return false
        }
        return condition(last)
    }
    return last
}

private func appliedCounts(_ log: String) -> [String: Int] {
    let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
    return text.split(separator: "\n").reduce(into: [:]) { $0[String($1), default: 0] += 1 }
}

@Suite("A coordinator killed between any two persisted transitions", .serialized)
struct CrashSafetyTests {
    @Test("an apply finishes after a kill at every transition, each resource applied exactly once")
    func applySurvivesKills() async throws {
        let files = [TrellisV1.SourceFile(name: "chain.yaml", content: Array(chain.utf8))]
        var point = 1
        var killedRuns = 0
        while point < 64 {
            let directory = TrellisdProcess.temporaryDataDirectory()
            let log = (directory as NSString).deletingLastPathComponent + "-noop.log"
            let first = try TrellisdProcess(
                dev: directory,
                environment: ["TRELLIS_TEST_KILL_AFTER_WRITES": "\(point)", "TRELLIS_TEST_NOOP_LOG": log])
            let (api, _) = try await first.waitUntilReady()
            let caller = try client(api, directory)
            let completed = await runToEnd(caller, apply: files)
            await caller.close()
            let killed = await first.waitForExit(timeout: completed ? .milliseconds(300) : .seconds(20)) != nil
            if !killed {
                // The apply needs fewer writes than `point`: every transition has been covered.
                #expect(completed)
                await first.terminate()
                first.removeData()
                break
            }
            killedRuns += 1

            let second = try TrellisdProcess(dev: directory, environment: ["TRELLIS_TEST_NOOP_LOG": log])
            let (again, _) = try await second.waitUntilReady()
            let observer = try client(again, directory)
            let final = await waitFor(observer, "crashy") { $0?.phase == "Ready" }
            #expect(final?.phase == "Ready", "killed after write \(point): \(String(describing: final?.phase))")
            #expect(final?.resources.count == 4)
            #expect(final?.resources.first { $0.name == "r4" }?.outputs["v"] == "1234")
            #expect(
                appliedCounts(log) == ["crashy/r1": 1, "crashy/r2": 1, "crashy/r3": 1, "crashy/r4": 1],
                "killed after write \(point)")
            await observer.close()
            await second.terminate()
            second.removeData()
            try? FileManager.default.removeItem(atPath: log)
            point += 1
        }
        // Seven writes: the accepted apply (documents, environment, intent), r1 Applying,
        // then each Ready together with the next resource's Applying (three), r4 Ready, and
        // the outcome. A new environment's resources have no rows to mark Pending first.
        #expect(killedRuns == 7, "the apply was interrupted at \(killedRuns) points")
    }

    @Test("a delete finishes after a kill at every transition, leaving nothing behind")
    func deleteSurvivesKills() async throws {
        let files = [TrellisV1.SourceFile(name: "chain.yaml", content: Array(chain.utf8))]
        var point = 1
        var killedRuns = 0
        while point < 64 {
            let directory = TrellisdProcess.temporaryDataDirectory()
            let setup = try TrellisdProcess(dev: directory)
            let (api, _) = try await setup.waitUntilReady()
            let applier = try client(api, directory)
            #expect(await runToEnd(applier, apply: files))
            await applier.close()
            await setup.terminate()

            let first = try TrellisdProcess(dev: directory, environment: ["TRELLIS_TEST_KILL_AFTER_WRITES": "\(point)"])
            let (deleteAPI, _) = try await first.waitUntilReady()
            let deleter = try client(deleteAPI, directory)
            let completed = await deleteToEnd(deleter, "crashy")
            await deleter.close()
            let killed = await first.waitForExit(timeout: completed ? .milliseconds(300) : .seconds(20)) != nil
            if !killed {
                #expect(completed)
                await first.terminate()
                first.removeData()
                break
            }
            killedRuns += 1

            let second = try TrellisdProcess(dev: directory)
            let (again, _) = try await second.waitUntilReady()
            let observer = try client(again, directory)
            let final = await waitFor(observer, "crashy") { $0 == nil }
            #expect(final == nil, "killed after write \(point): still \(String(describing: final?.phase))")
            await observer.close()
            await second.terminate()
            second.removeData()
            point += 1
        }
        #expect(killedRuns >= 8, "the delete was interrupted at \(killedRuns) points")
    }
}
