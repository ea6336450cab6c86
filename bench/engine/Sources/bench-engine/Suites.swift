import Foundation

/// The three measurements: each runs its rounds, records every round as a JSON line and
/// adds its rows (medians over rounds) to the report.
struct Suites {
    let options: Options
    let report: Report
    var rounds: Rounds {
        Rounds(count: options.rounds, quietWait: .seconds(options.quietWaitSeconds), retries: options.retries)
    }

    /// The engine's default limits (`ExecutionLimits`): 64 steps at once overall, 32 per
    /// driver. Every resource here is `noop`, so 32 is the one that binds. trellisd has no
    /// flag to change them.
    static let engineMaxConcurrent = 64
    static let enginePerDriver = 32
    static var engineWorkers: Int { min(engineMaxConcurrent, enginePerDriver) }

    // MARK: - 1. Planning in process

    func plan() async throws {
        let count = options.planResources
        for graph in [BenchGraph.wide(count), BenchGraph.deep(count)] {
            let benchmark = try PlanBenchmark(graph: graph)
            let bytes = benchmark.bytes.count
            var counts = PlanBenchmark.Counts()
            let kept = try await self.rounds.run(
                "plan \(graph.shape)", { try benchmark.round() }, otherCPUs: { $0.0.otherCPUs }
            ) { value, index, discarded in
                let round = value.0
                counts = value.1
                report.record(
                    .object([
                        ("bench", .string("plan")), ("shape", .string(graph.shape)), ("resources", .integer(count)),
                        ("round", .integer(index)), ("discarded", .bool(discarded)), ("input_bytes", .integer(bytes)),
                        ("decode_ms", .number(round.decode)), ("resolve_ms", .number(round.resolve)),
                        ("diff_empty_ms", .number(round.diffEmpty)), ("diff_partial_ms", .number(round.diffPartial)),
                        ("plan_empty_ms", .number(round.planEmpty)), ("plan_partial_ms", .number(round.planPartial)),
                        ("partial_creates", .integer(counts.creates)), ("partial_updates", .integer(counts.updates)),
                        ("partial_unchanged", .integer(counts.unchanged)),
                        ("partial_deletes", .integer(counts.deletes)),
                        ("other_cpus", .number(round.otherCPUs)),
                    ]))
            }
            let rounds = kept.map(\.0)
            let title = "1. plan in process, \(graph.shape), \(Format.count(count))"
            func row(_ metric: String, _ values: [Double], target: Double? = nil) {
                let median = Statistics.median(values)
                report.add(
                    Report.Row(
                        measurement: title, metric: metric, value: Format.spread(values, Format.milliseconds),
                        target: target.map { "≤ \(Format.milliseconds($0))" } ?? "",
                        met: target.map { median <= $0 }))
            }
            report.add(
                Report.Row(
                    measurement: title, metric: "input", value: "\(Format.count(bytes)) B YAML",
                    target: "", met: nil))
            row("decode", rounds.map(\.decode))
            row("resolve (graph, layers)", rounds.map(\.resolve))
            row("diff against empty state", rounds.map(\.diffEmpty))
            row("diff against partial state", rounds.map(\.diffPartial))
            report.add(
                Report.Row(
                    measurement: title,
                    metric:
                        "  partial: \(Format.count(counts.creates)) create, \(Format.count(counts.updates)) update, "
                        + "\(Format.count(counts.unchanged)) unchanged, \(Format.count(counts.deletes)) delete",
                    value: ""))
            row("plan, empty state (decode+resolve+diff)", rounds.map(\.planEmpty), target: 1_000)
            row("plan, partial state (decode+resolve+diff)", rounds.map(\.planPartial), target: 1_000)
            report.add(
                Report.Row(
                    measurement: title, metric: "other work on the machine, max",
                    value: Self.cpus(rounds.map(\.otherCPUs))))
        }
    }

    // MARK: - 2. 10,000 noop resources through trellisd

    func noop() async throws {
        let count = options.applyResources
        for graph in [BenchGraph.wide(count), BenchGraph.deep(count)] {
            let results = try await rounds.run(
                "apply \(graph.shape)",
                { try await ServerBenchmark(binary: options.trellisd, graph: graph, timePlan: true).run() },
                otherCPUs: \.otherCPUs
            ) { result, index, discarded in
                report.record(
                    .object(Self.fields(bench: "apply", graph: graph, round: index, discarded: discarded, result)))
            }
            let title = "2. trellisd, \(graph.shape), \(Format.count(count)) noop"
            func row(_ metric: String, _ value: String, target: String = "", met: Bool? = nil) {
                report.add(Report.Row(measurement: title, metric: metric, value: value, target: target, met: met))
            }
            func timing(_ metric: String, _ values: [Double], target: Double? = nil) {
                row(
                    metric, Format.spread(values, Format.milliseconds),
                    target: target.map { "≤ \(Format.milliseconds($0))" } ?? "",
                    met: target.map { Statistics.median(values) <= $0 })
            }
            let bytes = results[0].requestBytes
            row(
                "request", "\(Format.count(bytes)) B YAML", target: "≤ 1 MiB input limit",
                met: bytes <= 1 << 20)
            timing("Plan RPC", results.map { $0.planMilliseconds ?? 0 })
            let creates = results.map(\.plannedResources).min() ?? 0
            row(
                "  resources the plan creates", "\(Format.count(creates)) of \(Format.count(count))", target: "all",
                met: creates == count)
            timing("Apply, sent to Ready event", results.map(\.apply.wallMilliseconds))
            timing(
                "Plan + Apply", results.map { ($0.planMilliseconds ?? 0) + $0.apply.wallMilliseconds }, target: 1_000)
            row(
                "resources per second (Apply)",
                Format.spread(results.map { Double(count) / $0.apply.wallMilliseconds * 1_000 }) {
                    Format.count(Int($0.rounded()))
                })
            timing(
                "  sent → planned (admission, intent, diff)",
                results.map { Double($0.apply.plannedAt - $0.apply.sentAt) })
            timing(
                "  planned → Applying (Pending rows)",
                results.map { Double($0.apply.applyingAt - $0.apply.plannedAt) })
            timing(
                "  first started → last ready (execution)",
                results.map { Double($0.apply.lastReadyAt - $0.apply.firstStartedAt) })
            timing(
                "  last ready → Ready (final write)", results.map { Double($0.apply.readyAt - $0.apply.lastReadyAt) })
            let stored = results.map(\.storedReady).min() ?? 0
            row(
                "resources stored Ready after Apply", "\(Format.count(stored)) of \(Format.count(count))",
                target: "all", met: stored == count)
            timing("trellisd CPU during Plan + Apply", results.map(\.serverCPUMilliseconds))
            row(
                "trellisd peak memory (VmHWM)",
                Format.spread(results.map { Double($0.peakKiB) }) { Format.mebibytes(Int($0)) })
            row("other work on the machine, max", Self.cpus(results.map(\.otherCPUs)))
        }
    }

    // MARK: - 3. 1,000 resources with 20 ms delays

    func delays() async throws {
        let delay = 20
        let graphs = [
            BenchGraph.layered(layers: 40, width: 25, seed: 42, delayMilliseconds: delay),
            BenchGraph.chains(50, of: 20, delayMilliseconds: delay),
        ]
        for graph in graphs {
            let critical = Scheduling.criticalPath(graph)
            let atEngineLimits = Scheduling.listScheduleMilliseconds(graph, workers: Self.engineWorkers)
            let terraform = Scheduling.listScheduleMilliseconds(graph, workers: 10)
            let results = try await rounds.run(
                "delay \(graph.shape)",
                { try await ServerBenchmark(binary: options.trellisd, graph: graph, timePlan: false).run() },
                otherCPUs: \.otherCPUs
            ) { result, index, discarded in
                var fields = Self.fields(bench: "delay", graph: graph, round: index, discarded: discarded, result)
                fields += [
                    ("delay_ms", .integer(delay)), ("critical_path_ms", .number(critical.milliseconds)),
                    ("critical_path_resources", .integer(critical.length)),
                    ("computed_engine_limits_ms", .number(atEngineLimits)),
                    ("computed_terraform_10_ms", .number(terraform)), ("widest_layer", .integer(graph.widestLayer)),
                    ("mean_step_overhead_ms", .number(result.apply.meanStepOverhead(delayMilliseconds: delay))),
                    ("mean_handoff_ms", .number(result.apply.meanHandoff(graph))),
                ]
                report.record(.object(fields))
            }
            var floors: [Double] = []
            for index in 0..<results.count {
                let floor = await SleepFloor.milliseconds(graph, workers: Self.engineWorkers)
                floors.append(floor)
                report.record(
                    .object([
                        ("bench", .string("delay_floor")), ("shape", .string(graph.shape)),
                        ("resources", .integer(graph.count)), ("round", .integer(index)),
                        ("floor_ms", .number(floor)),
                    ]))
            }
            let floor = Statistics.median(floors)
            let title = "3. trellisd, \(graph.shape), \(Format.count(graph.count)) × \(delay) ms"
            func row(_ metric: String, _ value: String, target: String = "", met: Bool? = nil) {
                report.add(Report.Row(measurement: title, metric: metric, value: value, target: target, met: met))
            }
            let walls = results.map(\.apply.wallMilliseconds)
            let wall = Statistics.median(walls)
            row("widest layer", "\(graph.widestLayer)")
            row("critical path (\(critical.length) resources)", Format.milliseconds(critical.milliseconds))
            row("computed, engine limits (\(Self.engineWorkers) at once)", Format.milliseconds(atEngineLimits))
            row("computed, Terraform -parallelism=10", Format.milliseconds(terraform))
            row("Apply, sent to Ready event", Format.spread(walls, Format.milliseconds))
            row(
                "  first started → last ready",
                Format.spread(
                    results.map { Double($0.apply.lastReadyAt - $0.apply.firstStartedAt) }, Format.milliseconds))
            row(
                "  started → ready beyond the delay, mean",
                Format.spread(
                    results.map { $0.apply.meanStepOverhead(delayMilliseconds: delay) }, Format.milliseconds))
            row(
                "  dependency ready → dependent started, mean",
                Format.spread(results.map { $0.apply.meanHandoff(graph) }, Format.milliseconds))
            row(
                // Four places, so that a ratio just over the target does not print as equal to it.
                "Apply / critical path", String(format: "%.4fx", wall / critical.milliseconds), target: "≤ 1.0500x",
                met: wall <= critical.milliseconds * 1.05)
            row(
                "same graph, a Task.sleep per resource, in process", Format.spread(floors, Format.milliseconds))
            row("  floor / critical path", String(format: "%.3fx", floor / critical.milliseconds))
            if atEngineLimits > critical.milliseconds * 1.05 {
                row(
                    "Apply / computed at engine limits", String(format: "%.3fx", wall / atEngineLimits),
                    target: "target impossible at defaults", met: nil)
            }
            row("Terraform (computed) / Apply", String(format: "%.2fx", terraform / wall))
            row("other work on the machine, max", Self.cpus(results.map(\.otherCPUs)))
        }
    }

    static func cpus(_ values: [Double]) -> String { Format.cpus(values.max() ?? 0) }

    // MARK: - JSON lines

    static func fields(
        bench: String, graph: BenchGraph, round: Int, discarded: Bool, _ result: ServerBenchmark.Result
    ) -> [(String, JSON)] {
        let apply = result.apply
        var fields: [(String, JSON)] = [
            ("bench", .string(bench)), ("shape", .string(graph.shape)), ("resources", .integer(graph.count)),
            ("round", .integer(round)), ("discarded", .bool(discarded)),
            ("request_bytes", .integer(result.requestBytes)),
        ]
        if let plan = result.planMilliseconds {
            fields += [("plan_rpc_ms", .number(plan)), ("planned_creates", .integer(result.plannedResources))]
        }
        fields += [
            ("apply_ms", .number(apply.wallMilliseconds)),
            ("resources_per_s", .number(Double(graph.count) / apply.wallMilliseconds * 1_000)),
            ("sent_unix_ms", .integer(Int(apply.sentAt))), ("planned_unix_ms", .integer(Int(apply.plannedAt))),
            ("applying_unix_ms", .integer(Int(apply.applyingAt))),
            ("first_started_unix_ms", .integer(Int(apply.firstStartedAt))),
            ("last_ready_unix_ms", .integer(Int(apply.lastReadyAt))), ("ready_unix_ms", .integer(Int(apply.readyAt))),
            ("events", .integer(apply.events)), ("ready_events", .integer(apply.resourcesReady)),
            ("stored_ready", .integer(result.storedReady)), ("server_cpu_ms", .number(result.serverCPUMilliseconds)),
            ("peak_kib", .integer(result.peakKiB)), ("rss_kib", .integer(result.rssKiB)),
            ("exit_status", .integer(Int(result.exitStatus))), ("other_cpus", .number(result.otherCPUs)),
        ]
        return fields
    }
}
