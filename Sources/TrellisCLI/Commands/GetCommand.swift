import TrellisAPI
import TrellisCommandLine
import TrellisRPC

/// `trellis get environments|environment NAME|templates|template NAME|definitions|definition NAME`.
enum GetCommand {
    static func run(_ scanner: inout ArgumentScanner) async throws -> Int32 {
        let format = try OutputFormat.take(&scanner)
        let connection = try ConnectionOptions(scanning: &scanner)
        try scanner.finish(allowPositionals: true)
        let words = scanner.positionals
        guard let noun = words.first, words.count <= 2 else {
            throw UsageError(
                "usage: trellis get environments|environment NAME|agents|templates|template NAME|definitions|definition NAME"
            )
        }
        let name = words.count == 2 ? words[1] : nil
        return try await connection.withClient { client in
            switch (noun, name) {
            case ("environments", nil), ("envs", nil), ("environment", nil):
                let response = try await client.unary(
                    TrellisV1.EnvironmentService.list, TrellisV1.ListEnvironmentsRequest())
                printEnvironments(response.environments, format)
            case ("environment", let name?), ("env", let name?), ("environments", let name?):
                let environment = try await client.unary(
                    TrellisV1.EnvironmentService.get, TrellisV1.GetEnvironmentRequest(name: name))
                printEnvironment(environment, format)
            case ("agents", nil), ("agent", nil):
                let response = try await client.unary(TrellisV1.AdminService.listAgents, TrellisV1.ListAgentsRequest())
                printAgents(response.agents, format)
            case ("templates", _), ("template", _):
                try await printDocuments(client, kind: "Template", name: name, format)
            case ("definitions", _), ("definition", _), ("resourcedefinitions", _), ("resourcedefinition", _):
                try await printDocuments(client, kind: "ResourceDefinition", name: name, format)
            default:
                throw UsageError("trellis get: unknown kind \(noun)")
            }
            return 0
        }
    }

    static func environmentJSON(_ environment: TrellisV1.EnvironmentStatus) -> JSONValue {
        let now = Timestamp.nowUnixMilliseconds()
        let resources: [JSONValue] = environment.resources.map { resource in
            .object([
                ("name", .string(resource.name)), ("type", .string(resource.type)),
                ("driver", .string(resource.driver)),
                ("phase", .string(resource.phase)), ("outputs", .map(resource.outputs)),
                ("startedAt", .time(unixMilliseconds: resource.startedAtUnixMs)),
                ("finishedAt", .time(unixMilliseconds: resource.finishedAtUnixMs)),
                ("attempts", .int(Int64(resource.attempts))), ("agent", .string(resource.agent)),
                ("error", .string(resource.error)), ("dependsOn", .array(resource.dependsOn.map { .string($0) })),
                ("layer", .int(Int64(resource.layer))), ("health", .string(resource.health)),
                ("healthMessage", .string(resource.healthMessage)), ("drift", .string(resource.drift)),
            ])
        }
        var status: [(String, JSONValue)] = [
            ("phase", .string(environment.phase)), ("health", .string(environment.health)),
        ]
        if !environment.message.isEmpty { status.append(("message", .string(environment.message))) }
        status.append(("resources", .array(resources)))
        var members: [(String, JSONValue)] = [
            ("name", .string(environment.name)), ("team", .string(environment.team)),
            ("labels", .map(environment.labels)), ("template", .string(environment.template)),
            ("templateVersion", .int(Int64(environment.templateVersion))),
            ("reconcile", .string(environment.reconcile)),
            ("createdAt", .time(unixMilliseconds: environment.createdAtUnixMs)),
            ("expiresAt", .time(unixMilliseconds: environment.expiresAtUnixMs)),
        ]
        if environment.expiresAtUnixMs > 0 {
            members.append(("remaining", .string(Timestamp.duration(milliseconds: environment.expiresAtUnixMs - now))))
        }
        members.append(("status", .object(status)))
        return .object(members)
    }

    private static func printEnvironment(_ environment: TrellisV1.EnvironmentStatus, _ format: OutputFormat) {
        guard format == .text else {
            Output.write(environmentJSON(environment).pretty(), to: 1)
            return
        }
        var lines = ["environment \(environment.name)  phase \(environment.phase)  health \(environment.health)"]
        lines.append("  template  \(environment.template) v\(environment.templateVersion)   team \(environment.team)")
        if environment.expiresAtUnixMs > 0 {
            let remaining = Timestamp.duration(
                milliseconds: environment.expiresAtUnixMs - Timestamp.nowUnixMilliseconds())
            lines.append("  expires   in \(remaining)")
        }
        if !environment.message.isEmpty { lines.append("  message   \(environment.message)") }
        lines.append(
            "  " + "RESOURCE".padding(20) + "TYPE".padding(20) + "PHASE".padding(12) + "HEALTH".padding(11)
                + "AGENT".padding(14) + "OUTPUTS")
        for resource in environment.resources {
            let outputs = resource.outputs.keys.sorted().map { "\($0)=\(resource.outputs[$0]!)" }.joined(separator: " ")
            lines.append(
                "  " + resource.name.padding(20) + resource.type.padding(20) + resource.phase.padding(12)
                    + (resource.health.isEmpty ? "-" : resource.health).padding(11)
                    + (resource.agent.isEmpty ? "-" : resource.agent).padding(14) + outputs)
            let notes = [
                resource.drift.isEmpty ? nil : "drift: \(resource.drift)",
                resource.healthMessage.isEmpty ? nil : "health: \(resource.healthMessage)",
                resource.error.isEmpty ? nil : "error: \(resource.error)",
            ].compactMap { $0 }
            for note in notes { lines.append("      \(note)") }
        }
        Output.write(lines.joined(separator: "\n"), to: 1)
    }

    private static func printEnvironments(_ environments: [TrellisV1.EnvironmentStatus], _ format: OutputFormat) {
        guard format == .text else {
            Output.write(JSONValue.array(environments.map(environmentJSON)).pretty(), to: 1)
            return
        }
        var lines = ["NAME".padding(28) + "TEMPLATE".padding(24) + "PHASE".padding(12) + "RESOURCES  EXPIRES"]
        let now = Timestamp.nowUnixMilliseconds()
        for environment in environments {
            let expires =
                environment.expiresAtUnixMs > 0
                ? "in " + Timestamp.duration(milliseconds: environment.expiresAtUnixMs - now) : "-"
            lines.append(
                environment.name.padding(28) + "\(environment.template) v\(environment.templateVersion)".padding(24)
                    + environment.phase.padding(12) + String(environment.resources.count).padding(11) + expires)
        }
        Output.write(lines.joined(separator: "\n"), to: 1)
    }

    static func agentJSON(_ agent: TrellisV1.AgentStatus) -> JSONValue {
        .object([
            ("name", .string(agent.name)), ("labels", .map(agent.labels)), ("state", .string(stateName(agent.state))),
            ("lastHeartbeat", .time(unixMilliseconds: agent.lastHeartbeatUnixMs)),
            ("joinedAt", .time(unixMilliseconds: agent.joinedAtUnixMs)),
            ("drivers", .array(agent.drivers.map { .string($0) })), ("capacity", .int(Int64(agent.capacity))),
            ("hostname", .string(agent.hostname)), ("version", .string(agent.version)),
            ("resources", .int(Int64(agent.resources))),
        ])
    }

    static func stateName(_ state: TrellisV1.AgentState) -> String {
        switch state {
        case .connected: "Connected"
        case .disconnected: "Disconnected"
        case .unreachable: "Unreachable"
        case .unspecified: "Unknown"
        case .unrecognized(let value): "state_\(value)"
        }
    }

    private static func printAgents(_ agents: [TrellisV1.AgentStatus], _ format: OutputFormat) {
        guard format == .text else {
            Output.write(JSONValue.array(agents.map(agentJSON)).pretty(), to: 1)
            return
        }
        var lines = [
            "NAME".padding(24) + "STATE".padding(14) + "LAST HEARTBEAT".padding(22) + "RESOURCES".padding(11) + "LABELS"
        ]
        for agent in agents {
            let labels = agent.labels.keys.sorted().map { "\($0)=\(agent.labels[$0]!)" }.joined(separator: ",")
            lines.append(
                agent.name.padding(24) + stateName(agent.state).padding(14)
                    + Timestamp.rfc3339(unixMilliseconds: agent.lastHeartbeatUnixMs).padding(22)
                    + String(agent.resources).padding(11) + (labels.isEmpty ? "-" : labels))
        }
        Output.write(lines.joined(separator: "\n"), to: 1)
    }

    private static func printDocuments(
        _ client: RPCClient, kind: String, name: String?, _ format: OutputFormat
    ) async throws {
        let documents: [TrellisV1.CatalogDocument]
        if let name {
            documents = [
                try await client.unary(
                    TrellisV1.CatalogService.get, TrellisV1.GetDocumentRequest(kind: kind, name: name))
            ]
        } else {
            documents = try await client.unary(
                TrellisV1.CatalogService.list, TrellisV1.ListDocumentsRequest(kind: kind)
            ).documents
        }
        if format == .json {
            // Bodies are already canonical JSON; print them as they are.
            let bodies = documents.map(\.bodyJson)
            Output.write(name != nil ? bodies[0] : "[" + bodies.joined(separator: ",\n") + "]", to: 1)
            return
        }
        var lines = ["NAME".padding(32) + "VERSION  CREATED"]
        for document in documents {
            lines.append(
                document.name.padding(32) + String(document.version).padding(9)
                    + Timestamp.rfc3339(unixMilliseconds: document.createdAtUnixMs))
        }
        Output.write(lines.joined(separator: "\n"), to: 1)
    }
}
