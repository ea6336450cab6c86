/// The command line: `bench-engine --trellisd PATH [--out FILE] [--rounds N]
/// [--only plan,noop,delay] [--plan-resources N] [--apply-resources N]`.
struct Options {
    var trellisd = ""
    var outputPath: String?
    var rounds = 3
    var suites: Set<String> = ["plan", "noop", "delay"]
    var planResources = 100_000
    var applyResources = 10_000
    var quietWaitSeconds = 120
    var retries = 2

    static let usage = """
        usage: bench-engine --trellisd PATH [flags]
          --trellisd PATH        the trellisd binary (a release build)
          --out FILE             append every round as a JSON line to FILE
          --rounds N             rounds of each measurement; the table shows medians (default 3)
          --only LIST            some of plan,noop,delay (default all)
          --plan-resources N     resources of the in-process plan (default 100000)
          --apply-resources N    noop resources applied through trellisd (default 10000)
          --quiet-wait S         before each round, wait up to S seconds for other work on the
                                 machine to fall below 0.15 CPUs (default 120)
          --retries N            runs again a round with more other work than that, N times (default 2)
        """

    init(arguments: [String]) throws {
        var remaining = arguments[...]
        func value(_ flag: String) throws -> String {
            guard let value = remaining.popFirst() else { throw BenchError("bench-engine: \(flag) needs a value") }
            return value
        }
        func number(_ flag: String, least: Int = 1) throws -> Int {
            let text = try value(flag)
            guard let number = Int(text), number >= least else {
                throw BenchError("bench-engine: \(flag) \(text) is not an integer of at least \(least)")
            }
            return number
        }
        while let flag = remaining.popFirst() {
            switch flag {
            case "--trellisd": trellisd = try value(flag)
            case "--out": outputPath = try value(flag)
            case "--rounds": rounds = try number(flag)
            case "--plan-resources": planResources = try number(flag)
            case "--apply-resources": applyResources = try number(flag)
            case "--quiet-wait": quietWaitSeconds = try number(flag, least: 0)
            case "--retries": retries = try number(flag, least: 0)
            case "--only":
                suites = Set(try value(flag).split(separator: ",").map(String.init))
                let unknown = suites.subtracting(["plan", "noop", "delay"])
                guard unknown.isEmpty else {
                    throw BenchError("bench-engine: --only: unknown \(unknown.sorted().joined(separator: ", "))")
                }
            case "-h", "--help": throw BenchError(Self.usage)
            default: throw BenchError("bench-engine: unknown flag \(flag)\n\(Self.usage)")
            }
        }
        if trellisd.isEmpty, !suites.subtracting(["plan"]).isEmpty {
            throw BenchError("bench-engine: --trellisd is required\n\(Self.usage)")
        }
    }
}
