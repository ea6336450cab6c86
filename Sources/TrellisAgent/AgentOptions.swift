import TrellisCommandLine
import TrellisDomain
import TrellisLogging
import TrellisRPC

/// The flags of `trellis-agent`.
public struct AgentOptions: Sendable {
    /// `--coordinator HOST:PORT` as given.
    public var coordinatorText: String
    /// The parsed address.
    public var coordinator: SocketAddress
    /// `--data DIR`.
    public var dataDirectory: String
    /// `--join-token`, needed on the first start only.
    public var joinToken: String?
    /// `--name`; the host name by default.
    public var name: String?
    /// `--label k=v`, repeatable.
    public var labels: [String: String]
    /// `--ca FILE`: trust this CA instead of discovering it.
    public var caPath: String?
    /// `--server-name`: the name the coordinator's certificate must carry.
    public var serverName: String
    /// `--capacity N`.
    public var capacity: Int
    public var logLevel: Logger.Level
    public var logFormat: LogFormat

    public static let usage = """
        usage: trellis-agent --coordinator HOST:PORT --data DIR [--join-token TOKEN] [--name NAME] [--label k=v ...]

        Runs resources on this host for a Trellis coordinator, connecting out to its agent
        listener over mutual TLS. The first start joins with a join token; later starts use
        the credentials stored in DIR.

          --coordinator HOST:PORT  the coordinator's agent listener (numeric address or localhost)
          --data DIR               where the agent keeps its credentials and environments
          --join-token TOKEN       ID.SECRET.FINGERPRINT from `trellis join-token create` (first start)
          --name NAME              the agent's name (default: the host name, lower-cased)
          --label k=v              a label for placement, repeatable (first start)
          --ca FILE                trust this CA instead of discovering it from the coordinator
          --server-name NAME       the name the coordinator's certificate carries (default: HOST)
          --capacity N             commands run at once (default 16)
          --log-level LEVEL        trace, debug, info, warning, error (default info)
          --log-format FORMAT      logfmt or json (default logfmt)
        """

    /// Parses the arguments (without the program name).
    ///
    /// - Throws: `UsageError` naming the flag and what was wrong.
    public init(parsing arguments: [String]) throws(UsageError) {
        var scanner = ArgumentScanner(arguments)
        guard let coordinatorText = try scanner.value("--coordinator") else {
            throw UsageError("--coordinator HOST:PORT is required")
        }
        do {
            coordinator = try SocketAddress(parsing: coordinatorText)
        } catch {
            throw UsageError("--coordinator: \(error.message)")
        }
        self.coordinatorText = coordinatorText
        guard let dataDirectory = try scanner.value("--data"), !dataDirectory.isEmpty else {
            throw UsageError("--data DIR is required")
        }
        self.dataDirectory = dataDirectory
        joinToken = try scanner.value("--join-token")
        name = try scanner.value("--name")
        if let name, !AgentName.isValid(name) {
            throw UsageError("--name: \"\(name)\" is not a valid agent name: use [a-z0-9][a-z0-9.-]{0,62}")
        }
        labels = [:]
        for label in try scanner.values("--label") {
            guard let equals = label.firstIndex(of: "="), equals != label.startIndex else {
                throw UsageError("--label: expected KEY=VALUE, got \"\(label)\"")
            }
            labels[String(label[..<equals])] = String(label[label.index(after: equals)...])
        }
        caPath = try scanner.value("--ca")
        serverName = try scanner.value("--server-name") ?? Self.hostPart(of: coordinatorText)
        capacity = 16
        if let value = try scanner.value("--capacity") {
            guard let number = Int(value), number >= 1, number <= 10_000 else {
                throw UsageError("--capacity: expected a number from 1 to 10000, got \(value)")
            }
            capacity = number
        }
        logLevel = .info
        if let value = try scanner.value("--log-level") {
            guard let level = Logger.Level(name: value) else { throw UsageError("--log-level: unknown level \(value)") }
            logLevel = level
        }
        logFormat = .logfmt
        if let value = try scanner.value("--log-format") {
            guard let format = LogFormat(rawValue: value) else { throw UsageError("--log-format: use logfmt or json") }
            logFormat = format
        }
        try scanner.finish()
    }

    /// `HOST` of `HOST:PORT` or `[V6]:PORT`, as written.
    static func hostPart(of text: String) -> String {
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            return String(text[text.index(after: text.startIndex)..<close])
        }
        guard let colon = text.lastIndex(of: ":") else { return text }
        return String(text[..<colon])
    }
}
