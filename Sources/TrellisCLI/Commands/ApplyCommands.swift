import TrellisAPI
import TrellisCommandLine
import TrellisRPC

/// `trellis apply`, `trellis plan` and `trellis delete`.
enum ApplyCommands {
    /// Streams the apply's progress; 0 when every environment in the files ends Ready.
    static func apply(_ scanner: inout ArgumentScanner) async throws -> Int32 {
        let files = try SourceFiles.take(&scanner)
        let format = try OutputFormat.take(&scanner)
        let connection = try ConnectionOptions(scanning: &scanner)
        try scanner.finish()
        let printer = try await connection.withClient { client in
            try await client.serverStreaming(TrellisV1.EnvironmentService.apply, TrellisV1.ApplyRequest(files: files)) {
                events in
                var printer = ProgressPrinter(json: format == .json)
                for try await event in events { printer.print(event) }
                return printer
            }
        }
        return printer.allReady ? 0 : 1
    }

    /// Prints what apply would change.
    static func plan(_ scanner: inout ArgumentScanner) async throws -> Int32 {
        let files = try SourceFiles.take(&scanner)
        let format = try OutputFormat.take(&scanner)
        let connection = try ConnectionOptions(scanning: &scanner)
        try scanner.finish()
        let response = try await connection.withClient { client in
            try await client.unary(
                TrellisV1.EnvironmentService.plan, TrellisV1.PlanRequest(files: files),
                options: CallOptions(timeout: .seconds(60)))
        }
        switch format {
        case .json:
            let value = JSONValue.object([
                ("environments", .array(response.environments.map(PlanOutput.json))),
                (
                    "documents",
                    .array(
                        response.documents.map {
                            .object([
                                ("kind", .string($0.kind)), ("name", .string($0.name)),
                                ("version", .int(Int64($0.version))), ("changed", .bool($0.changed)),
                            ])
                        })
                ),
            ])
            Output.write(value.pretty(), to: 1)
        case .text:
            for document in response.documents {
                let state = document.changed ? "would be stored as version \(document.version)" : "unchanged"
                Output.write("\(document.kind) \(document.name): \(state)", to: 1)
            }
            for plan in response.environments { Output.write(PlanOutput.text(plan), to: 1) }
        }
        return 0
    }

    /// `trellis delete environment NAME`: streams progress and waits until it is gone.
    static func delete(_ scanner: inout ArgumentScanner) async throws -> Int32 {
        let format = try OutputFormat.take(&scanner)
        let connection = try ConnectionOptions(scanning: &scanner)
        try scanner.finish(allowPositionals: true)
        let words = scanner.positionals
        guard words.count == 2, ["environment", "env"].contains(words[0]) else {
            throw UsageError("usage: trellis delete environment NAME")
        }
        let printer = try await connection.withClient { client in
            try await client.serverStreaming(
                TrellisV1.EnvironmentService.delete, TrellisV1.DeleteEnvironmentRequest(name: words[1])
            ) { events in
                var printer = ProgressPrinter(json: format == .json)
                for try await event in events { printer.print(event) }
                return printer
            }
        }
        return printer.allDeleted ? 0 : 1
    }
}
