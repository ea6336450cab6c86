import TrellisCommandLine
import TrellisDomain
import TrellisLogging
import TrellisRPC

/// The `trellis-agent` command: flags, joining on the first start, then running the
/// agent until SIGINT or SIGTERM.
///
/// Exit status: 0 after a clean stop, 2 for a usage error, 1 for any other failure; each
/// error is one line on standard error, `trellis-agent: MESSAGE`.
public enum AgentCommand {
    /// Runs the command with `arguments` (without the program name); returns the exit status.
    public static func main(_ arguments: [String]) async -> Int32 {
        if arguments.contains("-h") || arguments.contains("--help") {
            FileDescriptorLogSink.writeLine(AgentOptions.usage, to: 1)
            return 0
        }
        let options: AgentOptions
        do {
            options = try AgentOptions(parsing: arguments)
        } catch {
            fail("\(error.message) (see --help)")
            return 2
        }
        LogSinks.bootstrap(
            FileDescriptorLogSink(fileDescriptor: 2, minimumLevel: options.logLevel, format: options.logFormat))
        let logger = Logger(label: "agent")

        do {
            let configuration = try await configure(options, logger: logger)
            let agent = try Agent(configuration: configuration, logger: logger)
            let signals = SignalHandling { signal in
                logger.info("stopping", ["signal": "\(signal)"])
                agent.shutdown()
            }
            try await agent.run()
            withExtendedLifetime(signals) {}
            return 0
        } catch let error as AgentError where error.code == .configuration {
            fail(error.message)
            return 2
        } catch let error as AgentError {
            fail(error.message)
            return 1
        } catch {
            fail("\(error)")
            return 1
        }
    }

    /// Reads what an earlier join stored, or joins now; returns the agent's configuration.
    static func configure(_ options: AgentOptions, logger: Logger) async throws(AgentError) -> AgentConfiguration {
        let directory = AgentDataDirectory(path: options.dataDirectory)
        try directory.prepare()
        let trustedCA = try options.caPath.map { path throws(AgentError) -> String in
            guard let text = try AgentDataDirectory.readIfPresent(path) else {
                throw AgentError(.configuration, "--ca: \(path) does not exist")
            }
            return text
        }

        let joined: AgentDataDirectory.Joined
        if let stored = try directory.loadJoined() {
            if let name = options.name, name != stored.name {
                throw AgentError(
                    .dataDirectory,
                    "--name \(name) differs from \(stored.name), the name this agent joined as (\(directory.statePath)); remove \(directory.path) to join again"
                )
            }
            if options.joinToken != nil {
                logger.info("already joined; ignoring --join-token", ["agent.name": stored.name])
            }
            if !options.labels.isEmpty {
                logger.info(
                    "already joined; ignoring --label, using the labels stored at join", ["agent.name": stored.name])
            }
            joined = stored
        } else {
            guard let tokenText = options.joinToken else {
                throw AgentError(
                    .configuration,
                    "--join-token is required on the first start (\(directory.statePath) does not exist)")
            }
            let token: JoinToken
            do {
                token = try JoinToken(parsing: tokenText)
            } catch {
                throw AgentError(.configuration, "--join-token: \(error)")
            }
            joined = try await Agent.join(
                coordinator: options.coordinator, serverName: options.serverName, token: token,
                name: options.name ?? AgentName.derived(fromHostname: AgentName.hostname()), labels: options.labels,
                trustedCAPEM: trustedCA, dataDirectory: directory, logger: logger)
        }

        var configuration = AgentConfiguration(
            name: joined.name, labels: joined.labels, coordinator: options.coordinator,
            serverName: options.serverName, identity: joined.identity, caPEM: trustedCA ?? joined.caPEM,
            dataDirectory: directory.path)
        configuration.capacity = options.capacity
        return configuration
    }

    private static func fail(_ message: String) {
        FileDescriptorLogSink.writeLine("trellis-agent: \(message)", to: 2)
    }
}
