import TrellisAPI
import TrellisLogging
import TrellisRPC

/// Plan and Apply of one graph through a fresh `trellisd --dev`, over the Swift RPC
/// client.
struct ServerBenchmark {
    /// One apply as the client saw it, with the server's event times (Unix milliseconds)
    /// to split it into phases.
    struct Apply: Sendable {
        /// Client wall clock when the request was sent.
        var sentAt: Int64 = 0
        /// Server times of the `planned` event, of the environment's `Applying` phase (the
        /// Pending rows of resources stored before written), of the first resource started,
        /// of the last resource ready, and of the environment's `Ready` phase.
        var plannedAt: Int64 = 0
        var applyingAt: Int64 = 0
        var firstStartedAt: Int64 = 0
        var lastReadyAt: Int64 = 0
        var readyAt: Int64 = 0
        /// From sending the request to receiving the `Ready` event, on the client's clock.
        var wallMilliseconds: Double = 0
        var events = 0
        var resourcesReady = 0
        var finalPhase = ""
        var message = ""
        /// Server times each resource started and was ready, by node (`rN` is node N).
        var startedAtOfNode: [Int64] = []
        var readyAtOfNode: [Int64] = []

        /// Mean milliseconds from a resource's start to its ready event beyond its own
        /// delay: the write of its Ready transition and the driver's overshoot.
        func meanStepOverhead(delayMilliseconds: Int) -> Double {
            let spans = zip(startedAtOfNode, readyAtOfNode).filter { $0.0 > 0 && $0.1 > 0 }
            guard !spans.isEmpty else { return 0 }
            return Double(spans.map { $0.1 - $0.0 }.reduce(0, +)) / Double(spans.count) - Double(delayMilliseconds)
        }

        /// Mean milliseconds from the last dependency's ready event to a resource's start
        /// event: scheduling it and writing its Applying transition.
        func meanHandoff(_ graph: BenchGraph) -> Double {
            var gaps: [Int64] = []
            for (node, edges) in graph.dependencies.enumerated() where !edges.isEmpty {
                let released = edges.map { readyAtOfNode[$0] }.max()!
                if released > 0, startedAtOfNode[node] > 0 { gaps.append(startedAtOfNode[node] - released) }
            }
            return gaps.isEmpty ? 0 : Double(gaps.reduce(0, +)) / Double(gaps.count)
        }
    }

    /// Everything measured on one server.
    struct Result: Sendable {
        var planMilliseconds: Double?
        var plannedResources = 0
        var apply = Apply()
        /// Resources the server reports Ready, with a finish time, after the apply.
        var storedReady = 0
        var peakKiB = 0
        var rssKiB = 0
        var serverCPUMilliseconds: Double = 0
        var exitStatus: Int32 = 0
        /// CPUs' worth of other work on the machine during Plan and Apply.
        var otherCPUs: Double = 0
        var requestBytes = 0
    }

    let binary: String
    let graph: BenchGraph
    /// Whether to time a Plan call before the apply.
    let timePlan: Bool

    func run() async throws -> Result {
        let name = "bench"
        let yaml = graph.yaml(name: name)
        let files = [TrellisV1.SourceFile(name: "bench.yaml", content: Array(yaml.utf8))]
        let server = try TrellisdServer(binary: binary)
        var result = Result(requestBytes: yaml.utf8.count)
        do {
            try await server.waitUntilReady()
            let client = try server.makeClient()
            do {
                try await measure(client, server, files, name, &result)
                await client.close()
            } catch {
                await client.close()
                throw error
            }
        } catch {
            await server.stop()
            throw error
        }
        result.exitStatus = await server.stop()
        return result
    }

    private func measure(
        _ client: RPCClient, _ server: TrellisdServer, _ files: [TrellisV1.SourceFile], _ name: String,
        _ result: inout Result
    ) async throws {
        let options = CallOptions(timeout: .seconds(600))
        // The connection and its TLS handshake are made before anything is timed.
        _ = try await client.unary(TrellisV1.HealthService.check, TrellisV1.HealthCheckRequest(), options: options)
        // So is the start of the server: in --dev it runs an agent of its own, which
        // connects (a mutual TLS handshake, both ends in trellisd) just after `ready`.
        try await waitForLocalAgent(client, options)
        let cpuBefore = server.cpuMilliseconds()
        let otherWork = OtherWork()

        if timePlan {
            let clock = ContinuousClock()
            let start = clock.now
            let response = try await client.unary(
                TrellisV1.EnvironmentService.plan, TrellisV1.PlanRequest(files: files), options: options)
            result.planMilliseconds = Scheduling.milliseconds(clock.now - start)
            result.plannedResources = response.environments.first?.resources.filter { $0.action == .create }.count ?? 0
        }

        result.apply = try await apply(client, files, name, options)
        result.serverCPUMilliseconds = server.cpuMilliseconds() - cpuBefore
        result.otherCPUs = otherWork.cpus(serverMilliseconds: result.serverCPUMilliseconds)

        let status = try await client.unary(
            TrellisV1.EnvironmentService.get, TrellisV1.GetEnvironmentRequest(name: name), options: options)
        result.storedReady = status.resources.filter { $0.phase == "Ready" && $0.finishedAtUnixMs > 0 }.count
        (result.peakKiB, result.rssKiB) = server.memoryKiB()
    }

    /// Waits until the server lists a connected agent: its local one, in --dev.
    private func waitForLocalAgent(_ client: RPCClient, _ options: CallOptions) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            let agents = try await client.unary(
                TrellisV1.AdminService.listAgents, TrellisV1.ListAgentsRequest(), options: options)
            if agents.agents.contains(where: { $0.state == .connected }) { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw BenchError("bench: trellisd's local agent did not connect within 30 s")
    }

    private func apply(
        _ client: RPCClient, _ files: [TrellisV1.SourceFile], _ name: String, _ options: CallOptions
    ) async throws -> Apply {
        let clock = ContinuousClock()
        var apply = Apply()
        apply.startedAtOfNode = Array(repeating: 0, count: graph.count)
        apply.readyAtOfNode = Array(repeating: 0, count: graph.count)
        func node(_ resource: String) -> Int? {
            guard let node = Int(resource.dropFirst()), node >= 0, node < graph.count else { return nil }
            return node
        }
        apply.sentAt = WallClock.nowNanoseconds() / 1_000_000
        let start = clock.now
        try await client.serverStreaming(
            TrellisV1.EnvironmentService.apply, TrellisV1.ApplyRequest(files: files), options: options
        ) { events in
            for try await event in events {
                apply.events += 1
                switch event.event {
                case .planned:
                    apply.plannedAt = event.timeUnixMs
                case .resourceStarted:
                    if apply.firstStartedAt == 0 { apply.firstStartedAt = event.timeUnixMs }
                    if let node = node(event.resource) { apply.startedAtOfNode[node] = event.timeUnixMs }
                case .resourceReady:
                    apply.resourcesReady += 1
                    apply.lastReadyAt = max(apply.lastReadyAt, event.timeUnixMs)
                    if let node = node(event.resource) { apply.readyAtOfNode[node] = event.timeUnixMs }
                case .environmentPhase where event.environment == name:
                    if event.phase == "Applying" {
                        apply.applyingAt = event.timeUnixMs
                    } else if event.phase == "Ready" || event.phase == "Failed" {
                        apply.wallMilliseconds = Scheduling.milliseconds(clock.now - start)
                        apply.readyAt = event.timeUnixMs
                        apply.finalPhase = event.phase
                        apply.message = event.message
                    }
                default:
                    break
                }
            }
        }
        guard apply.finalPhase == "Ready" else {
            throw BenchError(
                "bench: the apply of \(graph.shape) ended \(apply.finalPhase.isEmpty ? "without a phase" : apply.finalPhase)"
                    + (apply.message.isEmpty ? "" : ": \(apply.message)"))
        }
        return apply
    }
}
