import Foundation

/// What the run ran on, for the first JSON line.
enum Machine {
    static func meta(_ options: Options) -> JSON {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model =
            cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }?
            .split(separator: ":", maxSplits: 1).last?.trimmingCharacters(in: .whitespaces) ?? "unknown"
        var names = utsname()
        uname(&names)
        let kernel = withUnsafeBytes(of: &names.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return .object([
            ("bench", .string("meta")),
            ("command", .string(CommandLine.arguments.joined(separator: " "))),
            ("time", .string(ISO8601DateFormatter().string(from: Date()))),
            ("cpus", .integer(ProcessInfo.processInfo.activeProcessorCount)), ("cpu_model", .string(model)),
            ("kernel", .string(kernel)), ("rounds", .integer(options.rounds)),
            ("engine_max_concurrent", .integer(Suites.engineMaxConcurrent)),
            ("engine_per_driver", .integer(Suites.enginePerDriver)),
        ])
    }
}

/// CPU time spent on the machine by anything but this program and the trellisd it
/// measures, over a window: a sign that another workload disturbed the figures.
struct OtherWork {
    private let machineStart: Double
    private let selfStart: Double
    private let start = ContinuousClock.now

    init() {
        machineStart = Self.machineBusyMilliseconds()
        selfStart = Self.selfMilliseconds()
    }

    /// Average CPUs' worth of other work since `init`, given what trellisd spent meanwhile.
    func cpus(serverMilliseconds: Double = 0) -> Double {
        let elapsed = Scheduling.milliseconds(ContinuousClock.now - start)
        guard elapsed > 0 else { return 0 }
        let machine = Self.machineBusyMilliseconds() - machineStart
        let own = Self.selfMilliseconds() - selfStart
        return max(0, machine - own - serverMilliseconds) / elapsed
    }

    /// Busy time of every CPU (everything but idle and iowait, steal included) from
    /// `/proc/stat`.
    static func machineBusyMilliseconds() -> Double {
        guard let stat = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
            let line = stat.split(separator: "\n").first
        else { return 0 }
        let ticks = line.split(separator: " ").dropFirst().compactMap { Double($0) }
        guard ticks.count >= 8 else { return 0 }
        let busy = ticks[0] + ticks[1] + ticks[2] + ticks[5] + ticks[6] + ticks[7]
        return busy * 1_000 / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    static func selfMilliseconds() -> Double {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        func ms(_ time: timeval) -> Double { Double(time.tv_sec) * 1_000 + Double(time.tv_usec) / 1_000 }
        return ms(usage.ru_utime) + ms(usage.ru_stime)
    }
}
