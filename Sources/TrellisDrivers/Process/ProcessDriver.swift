import TrellisDomain

/// A supervised service: a program kept running on the host, restarted by its policy,
/// probed for health, with its output captured line by line.
///
/// Params (every one but `command` optional):
/// - `command`: the argv, a list of strings and numbers; never passed through a shell.
/// - `env`: variables added to the program's environment (which otherwise holds only
///   `PATH`).
/// - `workingDir`: a directory inside the environment's directory (relative; no `..`,
///   no symlinks); the environment's directory by default.
/// - `restart`: `always`, `on-failure` (the default) or `never`.
/// - `health`: one of `tcp: PORT`, `http: {port, path, status}` or `exec: [argv]`, with
///   `interval` (2s), `timeout` (1s) and `threshold` (3 consecutive failures).
/// - `limits`: `memory` (`256Mi`), `openFiles` and `cpuSeconds`, set as rlimits.
/// - `outputs`: a map returned among the outputs.
///
/// Outputs: `pid`, plus the declared `outputs`.
///
/// The programs belong to a `ProcessSupervisor`, which the driver only asks; one
/// supervisor serves every environment on the host.
public struct ProcessDriver: ResourceDriver {
    public let name = "process"
    public let supervisor: ProcessSupervisor

    public init(supervisor: ProcessSupervisor) {
        self.supervisor = supervisor
    }

    public func validate(_ params: SpecMap) -> [ParamProblem] {
        switch ProcessSpec.parse(params, allowPlaceholders: true) {
        case .success: []
        case .failure(let errors): errors.problems
        }
    }

    public func apply(_ request: DriverRequest) async throws(DriverError) -> DriverOutputs {
        let spec = try Self.spec(request)
        let pid = try await supervisor.run(
            key(request), spec: spec, environmentDirectory: try Self.directory(request), sink: request.output)
        var values = spec.outputs
        values["pid"] = .int(Int(pid))
        return DriverOutputs(values: values)
    }

    public func observe(_ request: DriverRequest, applied: DriverOutputs) async throws(DriverError) -> Observation {
        supervisor.observe(
            key(request), spec: try Self.spec(request), environmentDirectory: try Self.directory(request))
    }

    public func delete(_ request: DriverRequest) async throws(DriverError) {
        try await supervisor.stop(key(request), environmentDirectory: try Self.directory(request))
    }

    private func key(_ request: DriverRequest) -> ProcessKey {
        ProcessKey(environment: request.environment, resource: request.resource)
    }

    private static func spec(_ request: DriverRequest) throws(DriverError) -> ProcessSpec {
        switch ProcessSpec.parse(request.params) {
        case .success(let spec): return spec
        case .failure(let errors): throw DriverError("process: \(request.resource): \(errors.summary)")
        }
    }

    private static func directory(_ request: DriverRequest) throws(DriverError) -> String {
        guard let directory = request.environmentDirectory, directory.hasPrefix("/") else {
            throw DriverError("process: \(request.resource) needs the environment's directory (an absolute path)")
        }
        return directory
    }
}
