import TrellisDomain

/// The graph run in this process with nothing but a sleep per resource: each starts as
/// soon as its dependencies have ended, at most `workers` at once (the earliest ready
/// first), each sleeping `Task.sleep(for:)` the graph's delay. No persistence, no events,
/// no other process: what is left over the critical path is this machine's timers and
/// task scheduling, the floor under what any engine on it can reach.
enum SleepFloor {
    static func milliseconds(_ graph: BenchGraph, workers: Int) async -> Double {
        let resourceGraph = graph.resourceGraph()
        var remaining = resourceGraph.dependencies.map(\.count)
        var ready = (0..<graph.count).filter { remaining[$0] == 0 }
        var head = 0
        let delay = Duration.milliseconds(graph.delayMilliseconds)
        let start = ContinuousClock.now
        await withTaskGroup(of: Int.self) { group in
            var running = 0
            func startReady() {
                while running < workers && head < ready.count {
                    let node = ready[head]
                    head += 1
                    running += 1
                    group.addTask {
                        try? await Task.sleep(for: delay)
                        return node
                    }
                }
            }
            startReady()
            while let node = await group.next() {
                running -= 1
                for dependent in resourceGraph.dependents[node] {
                    remaining[dependent] -= 1
                    if remaining[dependent] == 0 { ready.append(dependent) }
                }
                startReady()
            }
        }
        precondition(head == graph.count, "every resource ran")
        let (seconds, attoseconds) = start.duration(to: .now).components
        return Double(seconds) * 1_000 + Double(attoseconds) / 1e15
    }
}
