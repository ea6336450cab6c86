import Glibc
import TrellisAPI
import TrellisCommandLine
import TrellisLogging
import TrellisRPC
import TrellisWire

/// The `trellis` command: parses the command line, runs one command, returns the exit
/// status (0 success, 1 failure, 2 usage).
public enum CLI {
    public static let usage = """
        usage: trellis COMMAND [options]

        commands:
          apply -f FILE [-f FILE ...] [-o json]   store documents, provision environments, stream progress
          plan -f FILE [-f FILE ...] [-o json]    what apply would change, changing nothing
          get environments | environment NAME [-o json]
          get templates | template NAME | definitions | definition NAME [-o json]
          get agents [-o json]                     agents, their labels, state and last heartbeat
          delete environment NAME [-o json]        delete in reverse order, stream progress
          join-token create [--ttl DURATION] [--label k=v ...]
                                                   a single-use token for trellis-agent --join-token
          health [--service NAME] [--watch]        the coordinator's serving status

        connection options:
        \(ConnectionOptions.usage)
        """

    public static func run(_ arguments: [String]) async -> Int32 {
        LogSinks.bootstrap(FileDescriptorLogSink(fileDescriptor: 2, minimumLevel: .error))
        guard let command = arguments.first, !["-h", "--help", "help"].contains(command) else {
            Output.write(usage, to: arguments.isEmpty ? 2 : 1)
            return arguments.isEmpty ? 2 : 0
        }
        do {
            var scanner = ArgumentScanner(Array(arguments.dropFirst()))
            switch command {
            case "health":
                return try await health(&scanner)
            case "apply":
                return try await ApplyCommands.apply(&scanner)
            case "plan":
                return try await ApplyCommands.plan(&scanner)
            case "delete":
                return try await ApplyCommands.delete(&scanner)
            case "get":
                return try await GetCommand.run(&scanner)
            case "join-token":
                return try await JoinTokenCommand.run(&scanner)
            default:
                throw UsageError("unknown command \(command)")
            }
        } catch let error as UsageError {
            Output.write("trellis: \(error)\n\n\(usage)", to: 2)
            return 2
        } catch let error as RPCError {
            Output.write("trellis: \(error.code.name): \(error.message)", to: 2)
            for detail in error.details {
                let showSubject = !detail.subject.isEmpty && !detail.description.contains(detail.subject)
                Output.write("  " + (showSubject ? "\(detail.subject): " : "") + detail.description, to: 2)
            }
            return 1
        } catch {
            Output.write("trellis: \(error)", to: 2)
            return 1
        }
    }

    /// `trellis health`: prints SERVING or NOT_SERVING; with `--watch`, every change.
    private static func health(_ scanner: inout ArgumentScanner) async throws -> Int32 {
        let watch = scanner.flag("--watch")
        let service = try scanner.value("--service") ?? ""
        let connection = try ConnectionOptions(scanning: &scanner)
        try scanner.finish()
        let request = TrellisV1.HealthCheckRequest(service: service)
        let status = try await connection.withClient { client in
            guard watch else {
                let response = try await client.unary(
                    TrellisV1.HealthService.check, request, options: CallOptions(timeout: .seconds(10)))
                Output.write(name(of: response.status), to: 1)
                return response.status
            }
            return try await client.serverStreaming(TrellisV1.HealthService.watch, request) { responses in
                var last: TrellisV1.ServingStatus = .unknown
                for try await response in responses {
                    last = response.status
                    Output.write(name(of: response.status), to: 1)
                }
                return last
            }
        }
        return status == .serving ? 0 : 3
    }

    private static func name(of status: TrellisV1.ServingStatus) -> String {
        switch status {
        case .serving: "SERVING"
        case .notServing: "NOT_SERVING"
        case .unknown: "UNKNOWN"
        case .unrecognized(let value): "STATUS_\(value)"
        }
    }
}

/// Lines to standard output or standard error.
enum Output {
    static func write(_ text: String, to fileDescriptor: Int32) {
        FileDescriptorLogSink.writeLine(text, to: fileDescriptor)
    }
}
