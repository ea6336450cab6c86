import TrellisAPI

/// Prints progress events, as lines for people or as JSON lines for programs, and keeps
/// the last phase of each environment for the exit status.
struct ProgressPrinter {
    let json: Bool
    private(set) var environmentPhases: [String: String] = [:]
    private(set) var plannedEnvironments: [String] = []

    init(json: Bool) {
        self.json = json
    }

    mutating func print(_ event: TrellisV1.ProgressEvent) {
        switch event.event {
        case .environmentPhase: environmentPhases[event.environment] = event.phase
        case .planned: plannedEnvironments.append(event.environment)
        default: break
        }
        Output.write(json ? Self.jsonLine(event).rendered() : Self.humanLine(event), to: 1)
    }

    /// Whether every environment the stream named ended Ready.
    var allReady: Bool {
        let names = Set(plannedEnvironments).union(environmentPhases.keys)
        return names.allSatisfy { environmentPhases[$0] == "Ready" }
    }

    /// Whether every environment the stream named is gone.
    var allDeleted: Bool {
        environmentPhases.values.allSatisfy { $0 == "Deleted" }
    }

    static func eventName(_ type: TrellisV1.EventType) -> String {
        switch type {
        case .planned: "planned"
        case .resourceStarted: "resource_started"
        case .resourceReady: "resource_ready"
        case .resourceFailed: "resource_failed"
        case .resourceBlocked: "resource_blocked"
        case .resourceRetrying: "resource_retrying"
        case .resourceDeleting: "resource_deleting"
        case .resourceDeleted: "resource_deleted"
        case .environmentPhase: "environment_phase"
        case .documentApplied: "document_applied"
        case .resourceHealth: "resource_health"
        case .resourceDrifted: "resource_drifted"
        case .environmentHealth: "environment_health"
        case .unspecified: "unspecified"
        case .unrecognized(let value): "event_\(value)"
        }
    }

    static func jsonLine(_ event: TrellisV1.ProgressEvent) -> JSONValue {
        var members: [(String, JSONValue)] = [
            ("time", .string(Timestamp.rfc3339(unixMilliseconds: event.timeUnixMs))),
            ("environment", .string(event.environment)),
        ]
        if !event.resource.isEmpty { members.append(("resource", .string(event.resource))) }
        members.append(("event", .string(eventName(event.event))))
        members.append(("phase", .string(event.phase)))
        if !event.outputs.isEmpty { members.append(("outputs", .map(event.outputs))) }
        if !event.message.isEmpty { members.append(("message", .string(event.message))) }
        if event.attempt > 0 { members.append(("attempt", .int(Int64(event.attempt)))) }
        if let document = event.document {
            members.append(
                (
                    "document",
                    .object([
                        ("kind", .string(document.kind)), ("name", .string(document.name)),
                        ("version", .int(Int64(document.version))), ("changed", .bool(document.changed)),
                    ])
                ))
        }
        if let plan = event.plan {
            members.append(("plan", PlanOutput.json(plan)))
        }
        return .object(members)
    }

    static func humanLine(_ event: TrellisV1.ProgressEvent) -> String {
        let time = Timestamp.clock(unixMilliseconds: event.timeUnixMs)
        switch event.event {
        case .documentApplied:
            let document = event.document ?? TrellisV1.DocumentResult()
            let what =
                document.changed ? "stored as version \(document.version)" : "unchanged (version \(document.version))"
            return "\(time)  \(document.kind) \(document.name) \(what)"
        case .planned:
            let plan = event.plan ?? TrellisV1.EnvironmentPlan()
            return "\(time)  \(event.environment): plan \(PlanOutput.summary(plan))"
        case .environmentPhase:
            let reason = event.message.isEmpty ? "" : ": \(event.message)"
            return "\(time)  \(event.environment): \(event.phase)\(reason)"
        case .environmentHealth:
            return "\(time)  \(event.environment): health \(event.phase)"
        case .resourceHealth:
            let reason = event.message.isEmpty ? "" : ": \(event.message)"
            return "\(time)  \(event.environment)/\(event.resource): health \(event.phase)\(reason)"
        default:
            var line = "\(time)  \(event.environment)/\(event.resource): \(eventName(event.event).dropFirst(9))"
            if event.attempt > 1 { line += " (attempt \(event.attempt))" }
            if !event.outputs.isEmpty {
                line += "  " + event.outputs.keys.sorted().map { "\($0)=\(event.outputs[$0]!)" }.joined(separator: " ")
            }
            if !event.message.isEmpty { line += ": \(event.message)" }
            return line
        }
    }
}

/// Plans as text and JSON.
enum PlanOutput {
    static func actionName(_ action: TrellisV1.ResourceAction) -> String {
        switch action {
        case .create: "create"
        case .update: "update"
        case .delete: "delete"
        case .unchanged: "unchanged"
        case .unspecified: "unspecified"
        case .unrecognized(let value): "action_\(value)"
        }
    }

    static func summary(_ plan: TrellisV1.EnvironmentPlan) -> String {
        var counts: [String: Int] = [:]
        for resource in plan.resources { counts[actionName(resource.action), default: 0] += 1 }
        let parts = ["create", "update", "delete", "unchanged"].compactMap { name in
            counts[name].map { name == "unchanged" ? "\($0) unchanged" : "\($0) to \(name)" }
        }
        let text = parts.isEmpty ? "nothing to do" : parts.joined(separator: ", ")
        return "\(text) in \(plan.layerCount) layer\(plan.layerCount == 1 ? "" : "s")"
    }

    static func json(_ plan: TrellisV1.EnvironmentPlan) -> JSONValue {
        .object([
            ("environment", .string(plan.environment)),
            ("layers", .int(Int64(plan.layerCount))),
            (
                "resources",
                .array(
                    plan.resources.map { resource in
                        .object([
                            ("name", .string(resource.name)), ("type", .string(resource.type)),
                            ("driver", .string(resource.driver)), ("action", .string(actionName(resource.action))),
                            ("layer", .int(Int64(resource.layer))),
                            ("dependsOn", .array(resource.dependsOn.map { .string($0) })),
                            ("changes", .array(resource.changes.map { .string($0) })),
                        ])
                    })
            ),
        ])
    }

    static func text(_ plan: TrellisV1.EnvironmentPlan) -> String {
        var lines = ["environment \(plan.environment): \(summary(plan))"]
        let byLayer = Dictionary(grouping: plan.resources, by: \.layer)
        for layer in byLayer.keys.sorted() {
            lines.append("  layer \(layer)")
            for resource in byLayer[layer]!.sorted(by: { $0.name < $1.name }) {
                var line = "    \(actionName(resource.action).padding(9)) \(resource.name) (\(resource.type))"
                if !resource.changes.isEmpty { line += ": " + resource.changes.joined(separator: ", ") }
                lines.append(line)
            }
        }
        return lines.joined(separator: "\n")
    }
}

extension String {
    /// The string padded with spaces to `width` characters.
    func padding(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
