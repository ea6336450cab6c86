import Foundation
import Synchronization
import Testing
import TrellisAPI
import TrellisDomain
import TrellisDrivers
import TrellisEngine
import TrellisRPC
import TrellisStore
import TrellisTestSupport
import TrellisWire

@testable import TrellisCoordinator

/// Counts completed noop applies per resource.
private final class ApplyCounter: Sendable {
    private let counts = Mutex<[String: Int]>([:])
    func record(_ request: DriverRequest) { counts.withLock { $0[request.resource, default: 0] += 1 } }
    var snapshot: [String: Int] { counts.withLock { $0 } }
}

/// An engine over a real SQLite file in a fresh directory.
private func makeEngine(counter: ApplyCounter = ApplyCounter()) async throws -> (EnvironmentEngine, SQLiteStore, String)
{
    let directory = Scratch.directory("engine")
    let store = try await SQLiteStore.open(directory: directory)
    var limits = ExecutionLimitsForTests.fast
    limits.maxConcurrent = 64
    let engine = EnvironmentEngine(
        store: store, drivers: DriverRegistry([NoopDriver(onApply: { counter.record($0) })]), limits: limits)
    return (engine, store, directory)
}

private enum ExecutionLimitsForTests {
    static var fast: ExecutionLimits {
        var limits = ExecutionLimits()
        limits.initialBackoff = .milliseconds(10)
        return limits
    }
}

private func file(_ text: String, name: String = "test.yaml") -> TrellisV1.SourceFile {
    TrellisV1.SourceFile(name: name, content: Array(text.utf8))
}

/// Runs an apply and collects its events until every environment settles.
private func applyAndCollect(_ engine: EnvironmentEngine, _ text: String) async throws -> [TrellisV1.ProgressEvent] {
    let (_, names, events) = try await engine.apply([file(text)])
    var pending = Set(names)
    var collected: [TrellisV1.ProgressEvent] = []
    for await event in events {
        collected.append(event)
        if event.event == .environmentPhase, event.phase == "Ready" || event.phase == "Failed" {
            pending.remove(event.environment)
            if pending.isEmpty { break }
        }
    }
    return collected
}

private let diamond = """
    apiVersion: trellis.dev/v1
    kind: Template
    metadata: {name: diamond}
    spec:
      resources:
        a: {type: noop, params: {delay: 300ms, outputs: {value: "from-a"}}}
        b: {type: noop, params: {delay: 300ms, outputs: {token: "t0k", plain: "p"}, secret: [token]}}
        c:
          type: noop
          params: {delay: 50ms, outputs: {joined: "${resources.a.outputs.value}+${resources.b.outputs.token}"}}
    ---
    apiVersion: trellis.dev/v1
    kind: Environment
    metadata: {name: shape, team: core}
    spec: {template: diamond}
    """

@Suite("The engine over a real state store")
struct EngineTests {
    @Test("independent resources run in parallel and a dependent starts only after both finish")
    func ordering() async throws {
        let (engine, store, _) = try await makeEngine()
        let events = try await applyAndCollect(engine, diamond)
        #expect(events.last?.phase == "Ready")
        let records = Dictionary(
            uniqueKeysWithValues: try await store.resources(inEnvironment: "shape").map { ($0.name, $0) })
        let (a, b, c) = (records["a"]!, records["b"]!, records["c"]!)
        #expect(a.startedAt! < b.finishedAt! && b.startedAt! < a.finishedAt!, "a and b overlapped")
        #expect(c.startedAt! >= max(a.finishedAt!, b.finishedAt!))
        await store.close()
    }

    @Test("each Ready event is published once, before the start of anything that depends on it")
    func readyOncePerResourceBeforeDependents() async throws {
        // Layers whose resources each depend on two of the layer before: the steps a
        // finished resource lets start carry its Ready transition together and race to
        // write it.
        let (layers, width) = (8, 6)
        var text = "apiVersion: trellis.dev/v1\nkind: Template\nmetadata: {name: mesh}\nspec:\n  resources:\n"
        var dependencies: [String: [String]] = [:]
        for layer in 0..<layers {
            for column in 0..<width {
                let name = "l\(layer)c\(column)"
                let needs = layer == 0 ? [] : ["l\(layer - 1)c\(column)", "l\(layer - 1)c\((column + 1) % width)"]
                dependencies[name] = needs
                text += "    \(name): {type: noop, params: {delay: 1ms}"
                text += needs.isEmpty ? "}\n" : ", dependsOn: [\(needs.joined(separator: ", "))]}\n"
            }
        }
        text += "---\napiVersion: trellis.dev/v1\nkind: Environment\nmetadata: {name: mesh}\nspec: {template: mesh}\n"
        let (engine, store, _) = try await makeEngine()
        let events = try await applyAndCollect(engine, text)
        #expect(events.last?.phase == "Ready")

        var readyAt: [String: Int] = [:]
        var startedAt: [String: Int] = [:]
        for (position, event) in events.enumerated() {
            switch event.event {
            case .resourceReady:
                #expect(readyAt[event.resource] == nil, "\(event.resource) announced Ready twice")
                readyAt[event.resource] = position
            case .resourceStarted:
                startedAt[event.resource] = position
            default:
                break
            }
        }
        #expect(readyAt.count == layers * width)
        for (name, needs) in dependencies {
            for dependency in needs {
                #expect(readyAt[dependency]! < startedAt[name]!, "\(name) started before \(dependency) was Ready")
            }
        }
        let stored = try await store.resources(inEnvironment: "mesh")
        #expect(stored.filter { $0.phase == "Ready" && $0.finishedAt != nil }.count == layers * width)
        await store.close()
    }

    @Test("a plan and then an apply of the same large input decode it once, and the apply is whole")
    func planThenApplyDecodesOnce() async throws {
        let (engine, store, _) = try await makeEngine()
        var text = "apiVersion: trellis.dev/v1\nkind: Template\nmetadata: {name: big}\nspec:\n  resources:\n"
        for index in 0..<2_000 {
            text += index == 0 ? "    r0: {type: noop}\n" : "    r\(index): {type: noop, dependsOn: [r\(index - 1)]}\n"
        }
        text += "---\napiVersion: trellis.dev/v1\nkind: Environment\nmetadata: {name: big}\nspec: {template: big}\n"
        let planned = try await engine.plan([file(text)])
        #expect(planned.environments.first?.resources.count == 2_000)
        #expect(engine.admission.decoded.hits == 0)
        let events = try await applyAndCollect(engine, text)
        #expect(engine.admission.decoded.hits == 1)
        #expect(events.last?.phase == "Ready")
        #expect(try await store.resources(inEnvironment: "big").filter { $0.phase == "Ready" }.count == 2_000)
        await store.close()
    }

    @Test("outputs flow through placeholders, and secrets never appear in events or status")
    func outputsAndSecrets() async throws {
        let (engine, store, _) = try await makeEngine()
        let events = try await applyAndCollect(engine, diamond)
        let ready = events.filter { $0.event == .resourceReady }
        #expect(ready.first { $0.resource == "b" }?.outputs == ["token": "(secret)", "plain": "p"])
        #expect(ready.first { $0.resource == "c" }?.outputs["joined"] == "from-a+t0k")
        let status = try await engine.status(of: "shape")
        #expect(status.resources.first { $0.name == "b" }?.outputs["token"] == "(secret)")
        #expect(status.phase == "Ready")
        #expect(status.resources.first { $0.name == "c" }?.layer == 1)
        await store.close()
    }

    @Test("a failure blocks its dependents, lets independent branches finish, and fails the environment")
    func failureIsolation() async throws {
        let (engine, store, _) = try await makeEngine()
        let events = try await applyAndCollect(
            engine,
            """
            apiVersion: trellis.dev/v1
            kind: Template
            metadata: {name: broken}
            spec:
              resources:
                db: {type: noop, params: {fail: "disk full"}}
                app: {type: noop, dependsOn: [db]}
                web: {type: noop, dependsOn: [app]}
                cache: {type: noop}
            ---
            apiVersion: trellis.dev/v1
            kind: Environment
            metadata: {name: partial}
            spec: {template: broken}
            """)
        #expect(events.last?.phase == "Failed")
        #expect(events.last?.message.contains("db failed: disk full") == true)
        let phases = Dictionary(
            uniqueKeysWithValues: try await store.resources(inEnvironment: "partial").map { ($0.name, $0.phase) })
        #expect(phases == ["db": "Failed", "app": "Blocked", "web": "Blocked", "cache": "Ready"])
        #expect(events.contains { $0.event == .resourceBlocked && $0.resource == "web" })
        await store.close()
    }

    @Test("applying the same spec again runs nothing; changing one resource runs only it")
    func idempotentReapply() async throws {
        let counter = ApplyCounter()
        let (engine, store, _) = try await makeEngine(counter: counter)
        _ = try await applyAndCollect(engine, diamond)
        _ = try await applyAndCollect(engine, diamond)
        #expect(counter.snapshot == ["a": 1, "b": 1, "c": 1])
        _ = try await applyAndCollect(engine, diamond.replacingOccurrences(of: "delay: 50ms", with: "delay: 60ms"))
        #expect(counter.snapshot == ["a": 1, "b": 1, "c": 2])
        await store.close()
    }

    @Test("while an apply runs, resources it has not started read as Pending, new ones and changed ones alike")
    func unstartedResourcesReadPending() async throws {
        let (engine, store, _) = try await makeEngine()
        _ = try await applyAndCollect(engine, diamond)
        // c changes and d is new; both wait for a, which changes too and now takes long
        // enough for the reads below to see it running on a loaded machine.
        let changed =
            diamond
            .replacingOccurrences(of: "delay: 50ms", with: "delay: 60ms")
            .replacingOccurrences(of: "delay: 300ms, outputs: {value", with: "delay: 3s, outputs: {value")
            .replacingOccurrences(
                of: "\n---", with: "\n    d: {type: noop, dependsOn: [a], params: {delay: 10ms}}\n---")
        let (_, _, events) = try await engine.apply([file(changed)])
        var sawStart = false
        for await event in events where event.event == .resourceStarted && event.resource == "a" {
            sawStart = true
            break
        }
        #expect(sawStart)
        let during = try await engine.status(of: "shape")
        #expect(during.resources.map(\.name) == ["a", "b", "c", "d"])
        let phases = Dictionary(uniqueKeysWithValues: during.resources.map { ($0.name, $0.phase) })
        #expect(phases == ["a": "Applying", "b": "Ready", "c": "Pending", "d": "Pending"])
        #expect(during.resources.first { $0.name == "d" }?.dependsOn == ["a"])
        let listed = try await engine.list(team: "")
        #expect(listed.first?.resources.count == 4)

        let after = try await eventually { try await engine.status(of: "shape").phase == "Ready" }
        #expect(after)
        let final = try await engine.status(of: "shape")
        #expect(final.resources.map(\.phase) == ["Ready", "Ready", "Ready", "Ready"])
        await store.close()
    }

    @Test("delete removes dependents before what they depend on, then the environment")
    func reverseDelete() async throws {
        let (engine, store, _) = try await makeEngine()
        _ = try await applyAndCollect(engine, diamond)
        let events = try await engine.delete("shape")
        var order: [String] = []
        for await event in events {
            if event.event == .resourceDeleted { order.append(event.resource) }
            if event.event == .environmentPhase && event.phase == "Deleted" { break }
        }
        #expect(order.first == "c")
        #expect(Set(order) == ["a", "b", "c"])
        #expect(try await store.environment(named: "shape") == nil)
        #expect(try await store.resources(inEnvironment: "shape").isEmpty)
        await store.close()
    }

    @Test("a request with problems is refused whole and changes nothing")
    func invalidRequestChangesNothing() async throws {
        let (engine, store, _) = try await makeEngine()
        let error = try await #require(throws: RPCError.self) {
            _ = try await engine.apply([
                file(
                    """
                    apiVersion: trellis.dev/v1
                    kind: Template
                    metadata: {name: ok}
                    spec: {resources: {x: {type: noop, params: {delay: soon}}}}
                    ---
                    apiVersion: trellis.dev/v1
                    kind: Environment
                    metadata: {name: e}
                    spec: {template: ok}
                    ---
                    apiVersion: trellis.dev/v1
                    kind: Environment
                    metadata: {name: f}
                    spec: {template: missing}
                    """)
            ])
        }
        #expect(error.code == .invalidArgument)
        let reasons = Set(error.details.map(\.reason))
        #expect(reasons.contains("UNKNOWN_TEMPLATE"))
        #expect(error.details.contains { $0.subject == "resources.x.params.delay" })
        #expect(try await store.documents(kind: nil, allVersions: true).isEmpty)
        #expect(try await store.environments(matching: .all).isEmpty)
        await store.close()
    }

    @Test("two applies of one environment at once: one runs, the other is refused, nothing breaks")
    func concurrentApplies() async throws {
        let (engine, store, _) = try await makeEngine()
        let outcomes = await withTaskGroup(of: String.self) { group in
            for _ in 0..<2 {
                group.addTask {
                    do {
                        let (_, _, events) = try await engine.apply([file(diamond)])
                        for await event in events where event.event == .environmentPhase && event.phase == "Ready" {
                            return "ready"
                        }
                        return "ended"
                    } catch let error as RPCError {
                        return "\(error.code)"
                    } catch {
                        return "\(error)"
                    }
                }
            }
            var outcomes: [String] = []
            for await outcome in group { outcomes.append(outcome) }
            return outcomes.sorted()
        }
        #expect(outcomes == ["\(StatusCode.failedPrecondition)", "ready"])
        await engine.waitUntilIdle()
        #expect(try await engine.status(of: "shape").phase == "Ready")
        await store.close()
    }

    @Test("an apply that finds the engine repairing drift waits for the repair, then runs")
    func applyWaitsForRepair() async throws {
        let (engine, store, _) = try await makeEngine()
        _ = try await applyAndCollect(engine, diamond)
        // A repair the engine started by itself, taking a moment.
        let repairEnded = Mutex<ContinuousClock.Instant?>(nil)
        #expect(await engine.claim("shape", .repair))
        await engine.launch("shape") { _ in
            try? await Task.sleep(for: .milliseconds(300))
            repairEnded.withLock { $0 = .now }
        }
        let changed = diamond.replacingOccurrences(of: "50ms", with: "60ms")
        let events = try await applyAndCollect(engine, changed)
        #expect(repairEnded.withLock { $0 } != nil, "the apply was admitted before the repair ended")
        #expect(events.last?.phase == "Ready")
        // A delete waits the same way.
        #expect(await engine.claim("shape", .repair))
        await engine.launch("shape") { _ in try? await Task.sleep(for: .milliseconds(100)) }
        let deleting = try await engine.delete("shape")
        for await event in deleting where event.event == .environmentPhase && event.phase == "Deleted" { break }
        await engine.waitUntilIdle()
        #expect(try await store.environment(named: "shape") == nil)
        await store.close()
    }

    @Test("plan reports what apply would do and changes nothing")
    func planChangesNothing() async throws {
        let (engine, store, _) = try await makeEngine()
        let plan = try await engine.plan([file(diamond)])
        #expect(plan.environments.first?.resources.map(\.action) == [.create, .create, .create])
        #expect(plan.environments.first?.layerCount == 2)
        #expect(plan.documents.first?.changed == true)
        #expect(try await store.documents(kind: nil, allVersions: true).isEmpty)
        await store.close()
    }

    @Test("an environment whose time to live has passed is deleted")
    func ttlExpiry() async throws {
        let (engine, store, _) = try await makeEngine()
        _ = try await applyAndCollect(
            engine, diamond.replacingOccurrences(of: "{template: diamond}", with: "{template: diamond, ttl: 1s}"))
        let status = try await engine.status(of: "shape")
        #expect(status.expiresAtUnixMs > status.createdAtUnixMs)
        try await engine.start(ttlInterval: .milliseconds(50))
        let gone = try await eventually { try await store.environment(named: "shape") == nil }
        #expect(gone)
        await engine.stop()
        await store.close()
    }
}

/// Polls an async throwing condition.
/// Fails retryably until its third attempt.
private struct FlakyDriver: ResourceDriver {
    let name = "flaky"
    func validate(_ params: SpecMap) -> [ParamProblem] { [] }
    func apply(_ request: DriverRequest) async throws(DriverError) -> DriverOutputs {
        guard request.attempt >= 3 else { throw DriverError("busy, attempt \(request.attempt)", retryable: true) }
        return DriverOutputs(values: ["attempt": .int(request.attempt)])
    }
    func observe(_ request: DriverRequest, applied: DriverOutputs) async throws(DriverError) -> Observation {
        .matches
    }
    func delete(_ request: DriverRequest) async throws(DriverError) {}
}

@Suite("Engine retries")
struct EngineRetryTests {
    @Test("a retryable driver failure is retried with backoff until it succeeds")
    func retries() async throws {
        let directory = Scratch.directory("engine-retry")
        let store = try await SQLiteStore.open(directory: directory)
        var limits = ExecutionLimits()
        limits.initialBackoff = .milliseconds(10)
        let engine = EnvironmentEngine(
            store: store, drivers: DriverRegistry([NoopDriver(), FlakyDriver()]), limits: limits)
        let events = try await applyAndCollect(
            engine,
            """
            apiVersion: trellis.dev/v1
            kind: ResourceDefinition
            metadata: {name: flaky-service}
            spec: {type: service, driver: flaky}
            ---
            apiVersion: trellis.dev/v1
            kind: Template
            metadata: {name: retrying}
            spec: {resources: {svc: {type: service}}}
            ---
            apiVersion: trellis.dev/v1
            kind: Environment
            metadata: {name: retried}
            spec: {template: retrying}
            """)
        #expect(events.last?.phase == "Ready")
        #expect(events.filter { $0.event == .resourceRetrying }.count == 2)
        let record = try #require(try await store.resource(inEnvironment: "retried", named: "svc"))
        #expect(record.attempts == 3)
        #expect(record.driver == "flaky")
        await store.close()
    }
}

@Suite("Catalog versions and watching")
struct CatalogAndWatchTests {
    @Test("applying a template again is idempotent; a changed body becomes the next version")
    func templateVersions() async throws {
        let (engine, store, _) = try await makeEngine()
        let first = try await engine.apply([file(diamond)])
        #expect(first.documents.map { [$0.version, $0.changed ? 1 : 0] } == [[1, 1]])
        await engine.waitUntilIdle()
        let again = try await engine.apply([file(diamond)])
        #expect(again.documents.map { [$0.version, $0.changed ? 1 : 0] } == [[1, 0]])
        await engine.waitUntilIdle()
        let changed = try await engine.apply([file(diamond.replacingOccurrences(of: "300ms", with: "301ms"))])
        #expect(changed.documents.map { [$0.version, $0.changed ? 1 : 0] } == [[2, 1]])
        await engine.waitUntilIdle()
        #expect(try await store.documents(kind: "Template", allVersions: true).map(\.version) == [1, 2])
        #expect(try await engine.status(of: "shape").templateVersion == 2)
        await store.close()
    }

    @Test("a watch of every environment sees an apply's progress as it happens")
    func watchSeesProgress() async throws {
        let (engine, store, _) = try await makeEngine()
        let watch = engine.watch("")
        _ = try await applyAndCollect(engine, diamond)
        var seen: [TrellisV1.EventType] = []
        for await event in watch {
            seen.append(event.event)
            if event.event == .environmentPhase && event.phase == "Ready" { break }
        }
        #expect(seen.first == .planned)
        #expect(seen.filter { $0 == .resourceReady }.count == 3)
        await store.close()
    }
}
