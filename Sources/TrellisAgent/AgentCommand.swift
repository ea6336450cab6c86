import TrellisCommandLine
import TrellisLogging

/// The `trellis-agent` command line.
///
/// Joining a coordinator, the agent's connection and its drivers are not part of this
/// version; the command says so rather than pretending to run.
public enum AgentCommand {
    public static let usage = """
        usage: trellis-agent --coordinator HOST:PORT --data DIR [--join-token TOKEN] [--name NAME] [--label k=v ...]

        The agent connects out to the coordinator's agent listener over mutual TLS.
        This version of Trellis runs the coordinator only: the agent is not available yet.
        """

    public static func run(_ arguments: [String]) -> Int32 {
        if arguments.contains("-h") || arguments.contains("--help") {
            FileDescriptorLogSink.writeLine(usage, to: 1)
            return 0
        }
        FileDescriptorLogSink.writeLine("trellis-agent: not available in this version of Trellis\n\n\(usage)", to: 2)
        return 2
    }
}
