import Dispatch
import Synchronization
import Testing
import TrellisAPI
import TrellisDomain
import TrellisDrivers
import TrellisEcho
import TrellisRPC
import TrellisStore
import TrellisTestSupport
import TrellisWire

@testable import TrellisCoordinator

/// Holds whatever thread checks a `gate` resource's params until the test opens it: the
/// thread admission runs on can do nothing else meanwhile.
private final class Gate: Sendable {
    private let state = Mutex((entered: false, open: false))
    private let semaphore = DispatchSemaphore(value: 0)

    var hasEntered: Bool { state.withLock { $0.entered } }

    /// Blocks the calling thread until ``open()`` (at once after it), or a minute at most.
    func pass() {
        let open = state.withLock { state -> Bool in
            state.entered = true
            return state.open
        }
        guard !open else { return }
        _ = semaphore.wait(timeout: .now() + 60)
        semaphore.signal()  // lets the next thread waiting through too
    }

    func open() {
        state.withLock { $0.open = true }
        semaphore.signal()
    }
}

private struct GateDriver: ResourceDriver {
    let name = "gate"
    let gate: Gate
    func validate(_ params: SpecMap) -> [ParamProblem] {
        gate.pass()
        return []
    }
    func apply(_ request: DriverRequest) async throws(DriverError) -> DriverOutputs { DriverOutputs(values: [:]) }
    func observe(_ request: DriverRequest, applied: DriverOutputs) async throws(DriverError) -> Observation {
        .matches
    }
    func delete(_ request: DriverRequest) async throws(DriverError) {}
}

private let gated = """
    apiVersion: trellis.dev/v1
    kind: ResourceDefinition
    metadata: {name: gated}
    spec: {type: gated, driver: gate}
    ---
    apiVersion: trellis.dev/v1
    kind: Template
    metadata: {name: gated}
    spec: {resources: {g: {type: gated}}}
    ---
    apiVersion: trellis.dev/v1
    kind: Environment
    metadata: {name: gated}
    spec: {template: gated}
    """

/// Serialized: each test parks one thread of the cooperative pool in the gate, and two
/// at once would leave the pool (two threads here) nothing to run the rest on.
@Suite("Engine work off the RPC loop", .serialized)
struct AdmissionThreadTests {
    /// Starts `call` against an engine behind a one-loop server, waits until its admission
    /// is parked in the gated resource's check, and returns whether an echo on the same
    /// connection was answered meanwhile, with `call`'s result once the gate opened.
    private func echoWhileAdmitting<Result: Sendable>(
        _ call: @escaping @Sendable (RPCClient, [TrellisV1.SourceFile]) async throws -> Result
    ) async throws -> (echoed: Bool, failure: (any Error)?, result: Result) {
        let gate = Gate()
        let store = try await SQLiteStore.open(directory: Scratch.directory("admission-thread"))
        let engine = EnvironmentEngine(store: store, drivers: DriverRegistry([NoopDriver(), GateDriver(gate: gate)]))
        let server = try await TestRPCServer.start(loops: 1) { router in
            EnvironmentService.register(into: &router, engine: engine)
        }
        let client = try server.makeClient()
        _ = try await client.unary(EchoV1.EchoService.echo, EchoV1.EchoRequest(payload: [0]))

        let files = [TrellisV1.SourceFile(name: "gated.yaml", content: Array(gated.utf8))]
        let task = Task { try await call(client, files) }
        let entered = await eventually(timeout: .seconds(60)) { gate.hasEntered }
        try #require(entered, "admission never checked the gated resource")

        // Admission is parked inside the driver's check. Had it run on the connection's
        // loop thread (the server's only one), nothing on the connection could be answered.
        var options = CallOptions()
        options.timeout = .seconds(20)
        var echoed = false
        var failure: (any Error)?
        do {
            echoed =
                try await client.unary(
                    EchoV1.EchoService.echo, EchoV1.EchoRequest(payload: [1, 2, 3]), options: options
                ).payload == [1, 2, 3]
        } catch {
            failure = error
        }
        gate.open()
        let result = try await task.value
        await client.close()
        await server.stop()
        await store.close()
        return (echoed, failure, result)
    }

    @Test("a call on the same connection is answered while a plan's admission holds its thread")
    func planAdmissionDoesNotHoldTheLoop() async throws {
        let outcome = try await echoWhileAdmitting { client, files in
            try await client.unary(TrellisV1.EnvironmentService.plan, TrellisV1.PlanRequest(files: files))
        }
        #expect(outcome.echoed, "the echo was not answered: \(String(describing: outcome.failure))")
        #expect(outcome.result.environments.first?.resources.map(\.name) == ["g"])
    }

    @Test("a call on the same connection is answered while an apply's admission holds its thread")
    func applyAdmissionDoesNotHoldTheLoop() async throws {
        let outcome = try await echoWhileAdmitting { client, files in
            try await client.serverStreaming(
                TrellisV1.EnvironmentService.apply, TrellisV1.ApplyRequest(files: files)
            ) { events in
                var last = ""
                for try await event in events where event.event == .environmentPhase { last = event.phase }
                return last
            }
        }
        #expect(outcome.echoed, "the echo was not answered: \(String(describing: outcome.failure))")
        #expect(outcome.result == "Ready")
    }
}
