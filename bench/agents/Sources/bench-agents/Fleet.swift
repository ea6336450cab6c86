import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// What all the simulated agents have done, counted by phase, and the lines that tell
/// the harness when a phase is complete.
///
/// Phase 0 runs from the start until ``markRestart()``; phase 1 after it. An agent
/// counts as welcomed in a phase at its first welcome in that phase, so phase 1 is
/// complete when every agent has a new stream welcomed after the restart mark. Every
/// agent reports here from its own task: the counters are behind one lock, taken a few
/// times per connection attempt.
final class Fleet: Sendable {
    struct Phase {
        /// Agents welcomed at least once in the phase.
        var welcomed = 0
        /// Connect attempts (a TCP connection, a TLS handshake, a hello), and those that
        /// ended without a welcome, by what went wrong.
        var attempts = 0
        var failures = 0
        var failureKinds: [String: Int] = [:]
        /// For each agent's first welcome in the phase: milliseconds from the start of
        /// that attempt to the welcome, and how many attempts it took.
        var welcomeMilliseconds: [Double] = []
        var mostAttempts = 0
        /// Welcomed streams that ended in the phase, and when the first and last did.
        var lost = 0
        var firstLost: Double?
        var lastLost: Double?
        var started: Double = 0
        var completed: Double?
    }

    struct State {
        var phase = 0
        var phases = [Phase(), Phase()]
        /// Streams welcomed and not ended.
        var live = 0
        /// By agent: the last phase it was counted welcomed in, its attempts since, and
        /// whether its first attempt has ended.
        var lastCounted: [Int]
        var attemptsSince: [Int]
        var firstEnded: [Bool]
    }

    let size: Int
    private let state: Mutex<State>
    /// Yields once for each agent whose first attempt ended, welcomed or not.
    let firstAttempts: AsyncStream<Void>
    private let firstAttemptEnded: AsyncStream<Void>.Continuation

    init(size: Int) {
        self.size = size
        state = Mutex(
            State(
                lastCounted: Array(repeating: -1, count: size), attemptsSince: Array(repeating: 0, count: size),
                firstEnded: Array(repeating: false, count: size)))
        (firstAttempts, firstAttemptEnded) = AsyncStream.makeStream(of: Void.self)
    }

    /// Phase 0 starts now.
    func start() {
        let now = Monotonic.seconds()
        state.withLock { $0.phases[0].started = now }
    }

    /// Moves to phase 1: the harness is about to kill trellisd.
    func markRestart() {
        let now = Monotonic.seconds()
        state.withLock { state in
            state.phase = 1
            state.phases[1].started = now
        }
        Output.line("restart-mark at=\(Output.fixed(now, 4))")
    }

    /// Agent `agent` starts an attempt.
    func attemptStarted(_ agent: Int) {
        state.withLock { state in
            state.phases[state.phase].attempts += 1
            state.attemptsSince[agent] += 1
        }
    }

    /// An attempt of agent `agent` ended without a welcome.
    func attemptFailed(_ agent: Int, _ reason: String) {
        let kind = Self.kind(of: reason)
        let first = state.withLock { state in
            state.phases[state.phase].failures += 1
            state.phases[state.phase].failureKinds[kind, default: 0] += 1
            return Self.endFirstAttemptLocked(agent, &state)
        }
        if first { firstAttemptEnded.yield() }
    }

    /// Agent `agent` was welcomed, `milliseconds` after the start of the attempt.
    func welcomed(_ agent: Int, milliseconds: Double) {
        let now = Monotonic.seconds()
        let (first, finished) = state.withLock { state -> (Bool, (phase: Int, summary: String)?) in
            state.live += 1
            let first = Self.endFirstAttemptLocked(agent, &state)
            let phase = state.phase
            guard state.lastCounted[agent] < phase else { return (first, nil) }
            state.lastCounted[agent] = phase
            state.phases[phase].welcomed += 1
            state.phases[phase].welcomeMilliseconds.append(milliseconds)
            state.phases[phase].mostAttempts = max(state.phases[phase].mostAttempts, state.attemptsSince[agent])
            state.attemptsSince[agent] = 0
            guard state.phases[phase].welcomed == size else { return (first, nil) }
            state.phases[phase].completed = now
            return (first, (phase, Self.summary(state.phases[phase], now: now)))
        }
        if first { firstAttemptEnded.yield() }
        guard let finished else { return }
        let word = finished.phase == 0 ? "connected" : "reconnected"
        Output.line("\(word) n=\(size) at=\(Output.fixed(now, 4)) \(finished.summary)")
    }

    private static func endFirstAttemptLocked(_ agent: Int, _ state: inout State) -> Bool {
        guard !state.firstEnded[agent] else { return false }
        state.firstEnded[agent] = true
        return true
    }

    /// A welcomed stream ended.
    func streamEnded() {
        let now = Monotonic.seconds()
        state.withLock { state in
            state.live -= 1
            state.phases[state.phase].lost += 1
            state.phases[state.phase].firstLost = state.phases[state.phase].firstLost ?? now
            state.phases[state.phase].lastLost = now
        }
    }

    /// One line of progress, for stderr.
    func progress() -> String {
        state.withLock { state in
            let phase = state.phases[state.phase]
            return "phase=\(state.phase) welcomed=\(phase.welcomed)/\(size) live=\(state.live) "
                + "attempts=\(phase.attempts) failures=\(phase.failures)"
        }
    }

    /// Everything, as one JSON object, for the end of the run.
    func result() -> String {
        let (phases, live) = state.withLock { ($0.phases, $0.live) }
        func object(_ phase: Phase) -> String {
            let kinds = phase.failureKinds.sorted { $0.value > $1.value }
                .map { "\(Output.json($0.key)):\($0.value)" }.joined(separator: ",")
            var fields = [
                "\"welcomed\":\(phase.welcomed)", "\"attempts\":\(phase.attempts)",
                "\"failures\":\(phase.failures)", "\"most_attempts\":\(phase.mostAttempts)",
                "\"lost\":\(phase.lost)", "\"failure_kinds\":{\(kinds)}",
            ]
            if let completed = phase.completed {
                fields.append("\"seconds\":\(Output.fixed(completed - phase.started, 3))")
            }
            let sorted = phase.welcomeMilliseconds.sorted()
            for (name, rank) in [("p50", 0.5), ("p99", 0.99)] {
                fields.append("\"welcome_\(name)_ms\":\(Output.fixed(Self.percentile(sorted, rank), 1))")
            }
            fields.append("\"welcome_max_ms\":\(Output.fixed(sorted.last ?? 0, 1))")
            return "{" + fields.joined(separator: ",") + "}"
        }
        return "{\"bench\":\"agents\",\"agents\":\(size),\"live\":\(live),"
            + "\"connect\":\(object(phases[0])),\"reconnect\":\(object(phases[1]))}"
    }

    private static func summary(_ phase: Phase, now: Double) -> String {
        let sorted = phase.welcomeMilliseconds.sorted()
        var parts = [
            "seconds=\(Output.fixed(now - phase.started, 3))", "attempts=\(phase.attempts)",
            "failures=\(phase.failures)", "most_attempts=\(phase.mostAttempts)", "lost=\(phase.lost)",
            "welcome_p50_ms=\(Output.fixed(percentile(sorted, 0.5), 1))",
            "welcome_p99_ms=\(Output.fixed(percentile(sorted, 0.99), 1))",
            "welcome_max_ms=\(Output.fixed(sorted.last ?? 0, 1))",
        ]
        if let first = phase.firstLost, let last = phase.lastLost {
            parts.append("first_lost_at=\(Output.fixed(first, 4)) last_lost_at=\(Output.fixed(last, 4))")
        }
        return parts.joined(separator: " ")
    }

    /// Nearest rank.
    private static func percentile(_ sorted: [Double], _ rank: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        let index = Int((rank * Double(sorted.count)).rounded(.up)) - 1
        return sorted[min(max(index, 0), sorted.count - 1)]
    }

    /// A failure's message with its numbers (ports, durations) taken out, so that the
    /// same failure on different connections counts as one kind.
    private static func kind(of reason: String) -> String {
        var kind = ""
        var inNumber = false
        for character in reason.prefix(160) {
            if character.isNumber {
                if !inNumber { kind.append("#") }
                inNumber = true
            } else {
                kind.append(character)
                inNumber = false
            }
        }
        return kind
    }
}

/// Lines on stdout for the harness, and progress on stderr, each written whole.
enum Output {
    private static let lock = Mutex(())

    static func line(_ text: String) {
        write(text, to: 1)
    }

    static func progress(_ text: String) {
        write("bench-agents: " + text, to: 2)
    }

    private static func write(_ text: String, to descriptor: Int32) {
        let bytes = Array((text + "\n").utf8)
        lock.withLock { _ in
            var offset = 0
            while offset < bytes.count {
                let written = bytes[offset...].withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
                if written < 0 && errno == EINTR { continue }
                if written <= 0 { return }
                offset += written
            }
        }
    }

    static func fixed(_ value: Double, _ digits: Int) -> String {
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = Int64((value * scale).rounded())
        let sign = scaled < 0 ? "-" : ""
        let whole = String(abs(scaled) / Int64(scale))
        guard digits > 0 else { return sign + whole }
        let fraction = String(abs(scaled) % Int64(scale))
        return sign + whole + "." + String(repeating: "0", count: digits - fraction.count) + fraction
    }

    static func json(_ text: String) -> String {
        var escaped = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": escaped += "\\\""
            case "\\": escaped += "\\\\"
            case "\n": escaped += "\\n"
            default:
                if scalar.value < 0x20 {
                    escaped +=
                        "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count)
                        + String(scalar.value, radix: 16)
                } else {
                    escaped.unicodeScalars.append(scalar)
                }
            }
        }
        return escaped + "\""
    }
}

/// CLOCK_MONOTONIC, the clock of Python's `time.monotonic()`, so that the harness can set
/// these times beside its own.
enum Monotonic {
    static func seconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }
}
