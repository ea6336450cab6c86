import TrellisDomain

/// A `process` resource's params, read and checked: what to run and how to supervise it.
///
/// Two parts matter differently. The *identity* (command, environment, working directory,
/// limits) is what the running program was started with: changing it replaces the
/// program. The rest (restart policy, health check, declared outputs) is supervision
/// and is updated in place.
public struct ProcessSpec: Sendable, Hashable {
    /// When a program that exited is started again.
    public enum RestartPolicy: String, Sendable, Hashable, CaseIterable {
        /// After every exit, successful or not.
        case always
        /// After an exit with a non-zero status or a signal.
        case onFailure = "on-failure"
        /// Never: an exited program stays exited.
        case never
    }

    /// How a program's health is probed.
    public enum HealthCheck: Sendable, Hashable {
        /// A TCP connection to `127.0.0.1:port` succeeds.
        case tcp(port: Int)
        /// `GET path` on `127.0.0.1:port` answers with `status`.
        case http(port: Int, path: String, status: Int)
        /// The program exits with status 0.
        case exec([String])
    }

    /// A health check with its timing.
    public struct Health: Sendable, Hashable {
        public var check: HealthCheck
        /// Time between probes; 2 s unless the params say otherwise.
        public var interval: Duration
        /// How long one probe may take before it counts as failed; 1 s by default.
        public var timeout: Duration
        /// Consecutive failures that make a healthy program unhealthy; 3 by default.
        public var threshold: Int
    }

    /// Resource limits, applied with setrlimit in the program before it starts.
    public struct Limits: Sendable, Hashable {
        /// The address-space limit (`RLIMIT_AS`), in bytes.
        public var memoryBytes: Int?
        /// The open-file limit (`RLIMIT_NOFILE`).
        public var openFiles: Int?
        /// The CPU-time limit (`RLIMIT_CPU`), in seconds.
        public var cpuSeconds: Int?

        /// Whether no limit is set.
        public var isEmpty: Bool { memoryBytes == nil && openFiles == nil && cpuSeconds == nil }
    }

    /// The program and its arguments, never passed through a shell.
    public var command: [String]
    /// Variables added to the program's environment.
    public var environment: [String: String]
    /// The working directory, relative to the environment's directory; nil for the
    /// environment's directory itself.
    public var workingDirectory: String?
    public var restart: RestartPolicy
    public var health: Health?
    public var limits: Limits
    /// Values the params declare, returned among the outputs.
    public var outputs: SpecMap

    /// The parts whose change replaces the running program, as stable text: equal
    /// identities mean the same program, across agent restarts too.
    public var identity: String {
        var map = SpecMap()
        map["command"] = .list(command.map { .string($0) })
        map["env"] = .map(SpecMap(environment.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) }))
        map["workingDir"] = workingDirectory.map { .string($0) } ?? .null
        map["memory"] = limits.memoryBytes.map { .int($0) } ?? .null
        map["openFiles"] = limits.openFiles.map { .int($0) } ?? .null
        map["cpuSeconds"] = limits.cpuSeconds.map { .int($0) } ?? .null
        return map.canonicalJSON
    }

    /// A short digest of `identity` (64-bit FNV-1a, hex), kept in state files.
    public var identityHash: String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in identity.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        let digits = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}

extension ProcessSpec {
    /// The params the driver knows.
    static let fields = ["command", "env", "workingDir", "restart", "health", "limits", "outputs"]

    /// The spec `params` describe, or every problem with them.
    ///
    /// With `allowPlaceholders`, strings holding `${...}` are accepted where a value will
    /// only be known once dependencies have run (validation before a plan); the spec
    /// returned then holds them unsubstituted.
    static func parse(_ params: SpecMap, allowPlaceholders: Bool = false) -> Result<ProcessSpec, ParamErrors> {
        var reader = ParamReader(allowPlaceholders: allowPlaceholders)
        for key in params.keys where !fields.contains(key) {
            reader.problem(
                "params.\(key)", "unknown param (process takes \(fields.joined(separator: ", ")))")
        }

        let command = reader.command(params["command"], path: "params.command", required: true)
        let environment = reader.environment(params["env"])
        let workingDirectory = reader.workingDirectory(params["workingDir"])
        let restart = reader.restart(params["restart"])
        let health = reader.health(params["health"])
        let limits = reader.limits(params["limits"])
        var outputs = SpecMap()
        if let value = params["outputs"] {
            if let map = value.mapValue {
                outputs = map
                if map["pid"] != nil {
                    reader.problem("params.outputs.pid", "pid is the process's own output and cannot be declared")
                }
            } else {
                reader.problem("params.outputs", "expected a map, not a \(value.typeName)")
            }
        }

        guard reader.problems.isEmpty else { return .failure(ParamErrors(problems: reader.problems)) }
        return .success(
            ProcessSpec(
                command: command, environment: environment, workingDirectory: workingDirectory, restart: restart,
                health: health, limits: limits, outputs: outputs))
    }
}

/// The problems that kept params from being read.
struct ParamErrors: Error {
    var problems: [ParamProblem]

    /// The problems as one line, for a driver error.
    var summary: String { problems.map(\.description).joined(separator: "; ") }
}
