/// The command line: `bench-agents --target HOST:PORT --ca FILE --ca-key FILE --agents N
/// [--loops L] [--ramp K] [--workers W] [--server-name NAME]`.
struct Options {
    var target = ""
    var caPath = ""
    var caKeyPath = ""
    var agents = 1_000
    var loops = 1
    var ramp = 100
    var workers = 0
    var serverName = "localhost"

    static let usage = """
        usage: bench-agents --target HOST:PORT --ca FILE --ca-key FILE [flags]
          --target HOST:PORT     trellisd's agent listener
          --ca FILE              the coordinator's CA certificate (DATA/ca.pem)
          --ca-key FILE          its key (DATA/ca.key): the tool signs each agent's certificate
          --agents N             simulated agents, each with its own key and connection (default 1000)
          --loops L              event loops for all the connections (default 1)
          --ramp K               first connections in progress at once at the start (default 100)
          --workers W            threads that make keys and certificates (default: one per core)
          --server-name NAME     the name the coordinator's certificate must carry (default localhost)

        Prints `prepared ...` once every identity is made, then waits for `start` on stdin.
        `restart` marks the moment before the harness kills trellisd; end of stdin ends the
        run. bench/README.md describes every line.
        """

    init(arguments: [String]) throws {
        var remaining = arguments[...]
        func value(_ flag: String) throws -> String {
            guard let value = remaining.popFirst() else { throw BenchError("bench-agents: \(flag) needs a value") }
            return value
        }
        func number(_ flag: String, least: Int = 1) throws -> Int {
            let text = try value(flag)
            guard let number = Int(text), number >= least else {
                throw BenchError("bench-agents: \(flag) \(text) is not an integer of at least \(least)")
            }
            return number
        }
        while let flag = remaining.popFirst() {
            switch flag {
            case "--target": target = try value(flag)
            case "--ca": caPath = try value(flag)
            case "--ca-key": caKeyPath = try value(flag)
            case "--agents": agents = try number(flag)
            case "--loops": loops = try number(flag)
            case "--ramp": ramp = try number(flag)
            case "--workers": workers = try number(flag)
            case "--server-name": serverName = try value(flag)
            case "-h", "--help": throw BenchError(Self.usage)
            default: throw BenchError("bench-agents: unknown flag \(flag)\n\(Self.usage)")
            }
        }
        if target.isEmpty || caPath.isEmpty || caKeyPath.isEmpty {
            throw BenchError("bench-agents: --target, --ca and --ca-key are required\n\(Self.usage)")
        }
    }
}

/// A failure of the benchmark itself; it ends the run with the message.
struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
