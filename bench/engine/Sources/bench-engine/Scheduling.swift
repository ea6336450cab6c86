import TrellisDomain

/// Wall times computed from a graph rather than measured: the critical path, and what a
/// scheduler with a fixed number of workers would take.
enum Scheduling {
    /// The sum of delays along the longest path: the least time any apply can take.
    static func criticalPath(_ graph: BenchGraph) -> (milliseconds: Double, length: Int) {
        let durations = [Duration](repeating: .milliseconds(graph.delayMilliseconds), count: graph.count)
        let (duration, path) = graph.resourceGraph().criticalPath(durations: durations)
        return (milliseconds(duration), path.count)
    }

    /// The makespan of greedy list scheduling with at most `workers` resources running at
    /// once, each taking the graph's delay: whenever a worker is free, it takes the
    /// resource that became ready first (ties in declaration order). This is how a
    /// Terraform-style walker with `-parallelism=workers` behaves on equal-cost steps.
    ///
    /// With one duration for all, every start and finish falls on a multiple of it, so the
    /// simulation proceeds in rounds.
    static func listScheduleMilliseconds(_ graph: BenchGraph, workers: Int) -> Double {
        precondition(workers > 0, "at least one worker")
        let resourceGraph = graph.resourceGraph()
        var remaining = resourceGraph.dependencies.map(\.count)
        var ready = (0..<graph.count).filter { remaining[$0] == 0 }
        var head = 0
        var rounds = 0
        while head < ready.count {
            let running = ready[head..<min(head + workers, ready.count)]
            head = running.endIndex
            rounds += 1
            var released: [Int] = []
            for node in running {
                for dependent in resourceGraph.dependents[node] {
                    remaining[dependent] -= 1
                    if remaining[dependent] == 0 { released.append(dependent) }
                }
            }
            ready += released.sorted()
        }
        precondition(head == graph.count, "every resource was scheduled")
        return Double(rounds * graph.delayMilliseconds)
    }

    static func milliseconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) * 1_000 + Double(attoseconds) / 1e15
    }
}
