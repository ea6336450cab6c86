import Glibc
import TrellisDomain

/// The escape hatch: user-supplied programs apply, observe and delete the resource,
/// speaking JSON on stdin and stdout, so drivers can be written in any language.
///
/// Params:
/// - `apply` (required), `observe`, `delete`: argv lists, never passed through a shell. A
///   program with a `/` is relative to the environment directory unless absolute; one
///   without is looked up in the program's `PATH`.
/// - `timeout`: a duration, default 60s, for each run; at the end the program's process
///   group gets SIGTERM, then SIGKILL 2 seconds later.
/// - `env`: variables set for the programs, over a small base (see docs/drivers.md).
///
/// Each program gets the resource as JSON on stdin and runs in the environment directory.
/// Apply prints `{"outputs": {...}, "secret": [...]}`; observe prints `{"state": "matches" |
/// "drifted" | "missing", "reason": "..."}`; delete may print `{}` or nothing. A non-zero
/// exit, a timeout or output that is not such an object is a `DriverError` naming the
/// program, the status and the last lines of stderr; exit status 75 (`EX_TEMPFAIL`) is a
/// retryable one. Stderr lines go to `request.output` as they arrive.
///
/// Without an observe program the resource is taken to match; without a delete program
/// delete does nothing.
public struct ExecDriver: ResourceDriver {
    public let name = "exec"

    /// How long a program has after SIGTERM before SIGKILL.
    private let killGrace: Duration

    public init() {
        self.init(killGrace: .seconds(2))
    }

    /// A driver with a different SIGTERM-to-SIGKILL grace, for tests.
    public init(killGrace: Duration) {
        self.killGrace = killGrace
    }

    public func validate(_ params: SpecMap) -> [ParamProblem] {
        ExecSpec.problems(in: params)
    }

    public func apply(_ request: DriverRequest) async throws(DriverError) -> DriverOutputs {
        let spec = try ExecSpec(request.params)
        let response = try await run(.apply, spec.apply, spec, request, outputs: [:])
        return try ExecResponse.outputs(from: response, program: spec.apply[0])
    }

    public func observe(_ request: DriverRequest, applied: DriverOutputs) async throws(DriverError) -> Observation {
        let spec = try ExecSpec(request.params)
        guard let observe = spec.observe else { return .matches }
        let response = try await run(.observe, observe, spec, request, outputs: applied.values)
        return try ExecResponse.observation(from: response, program: observe[0])
    }

    public func delete(_ request: DriverRequest) async throws(DriverError) {
        let spec = try ExecSpec(request.params)
        guard let delete = spec.delete else { return }
        _ = try await run(.delete, delete, spec, request, outputs: [:])
    }

    /// Runs one program and returns the object it printed (empty when it printed nothing).
    private func run(
        _ operation: ExecOperation, _ argv: [String], _ spec: ExecSpec, _ request: DriverRequest, outputs: SpecMap
    ) async throws(DriverError) -> SpecMap? {
        let directory = try EnvironmentDirectory.open(for: request, driver: name)
        let environment = Self.environment(spec, request, operation, directory)
        let program = argv[0]
        let executable = try Self.resolve(program, in: directory.path, environment: environment, operation)
        let input = ExecResponse.input(for: request, operation: operation, outputs: outputs)

        let sink = request.output
        let (environmentName, resource) = (request.environment, request.resource)
        let invocation = ProgramInvocation(
            executable: executable, arguments: argv, environment: environment.map { "\($0.0)=\($0.1)" },
            workingDirectory: directory.path, input: Array(input.utf8), timeout: spec.timeout, killGrace: killGrace,
            onStderrLine: { line in
                sink?.write(
                    OutputLine(
                        environment: environmentName, resource: resource, stream: .stderr,
                        timestampNanoseconds: wallClockNanoseconds(), text: line))
            })

        let result: ProgramResult
        do {
            result = try await ProgramRunner.run(invocation)
        } catch {
            throw DriverError("exec: \(operation) program \(program) could not start: \(error)")
        }
        return try ExecResponse.object(from: result, operation: operation, program: program, timeout: spec.timeout)
    }

    /// The programs' environment: a small base from the agent's own, the resource's
    /// names, then `params.env` over them.
    private static func environment(
        _ spec: ExecSpec, _ request: DriverRequest, _ operation: ExecOperation, _ directory: EnvironmentDirectory
    ) -> [(String, String)] {
        var entries: [(String, String)] = []
        func set(_ name: String, _ value: String) {
            entries.removeAll { $0.0 == name }
            entries.append((name, value))
        }
        set("PATH", getenv("PATH").map { String(cString: $0) } ?? "/usr/local/bin:/usr/bin:/bin")
        for name in ["HOME", "LANG", "LC_ALL", "TZ", "TMPDIR"] {
            if let value = getenv(name) { set(name, String(cString: value)) }
        }
        set("TRELLIS_ENVIRONMENT", request.environment)
        set("TRELLIS_RESOURCE", request.resource)
        set("TRELLIS_OPERATION", operation.rawValue)
        set("TRELLIS_ENVIRONMENT_DIRECTORY", directory.path)
        for (name, value) in spec.environment { set(name, value) }
        return entries
    }

    /// The executable for `program`: a path with a `/` is taken relative to the environment
    /// directory; a bare name is searched in the programs' `PATH`.
    private static func resolve(
        _ program: String, in directory: String, environment: [(String, String)], _ operation: ExecOperation
    ) throws(DriverError) -> String {
        if program.contains("/") {
            return program.hasPrefix("/") ? program : directory + "/" + program
        }
        let path = environment.last { $0.0 == "PATH" }?.1 ?? ""
        for entry in path.split(separator: ":") where entry.hasPrefix("/") {
            let candidate = entry + "/" + program
            var status = stat()
            if stat(candidate, &status) == 0 && status.st_mode & S_IFMT == S_IFREG && access(candidate, X_OK) == 0 {
                return candidate
            }
        }
        throw DriverError("exec: params.\(operation): program \(program) was not found in PATH \(path)")
    }
}

/// The step a program is run for; also its `TRELLIS_OPERATION` and stdin's `operation`.
enum ExecOperation: String, CustomStringConvertible {
    case apply
    case observe
    case delete

    var description: String { rawValue }
}
