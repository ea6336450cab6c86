import TrellisDomain

/// The param checks of drivers, by name, without the drivers themselves: what a process
/// that admits resources but does not run them (the coordinator) needs.
public struct ParamValidators: Sendable {
    public typealias Check = @Sendable (SpecMap) -> [ParamProblem]

    private var checks: [String: Check] = [:]

    public init() {}

    /// The checks of every built-in driver that runs on agents: `file`, `directory`,
    /// `port`, `exec`, `process` and `postgres-database`.
    public static var agentDrivers: ParamValidators {
        var validators = ParamValidators()
        validators.add(FileDriver())
        validators.add(DirectoryDriver())
        validators.add(PortDriver())
        validators.add(ExecDriver())
        validators.add(PostgresDatabaseDriver())
        validators.add("process") { params in
            switch ProcessSpec.parse(params, allowPlaceholders: true) {
            case .success: []
            case .failure(let errors): errors.problems
            }
        }
        return validators
    }

    public mutating func add(_ driver: any ResourceDriver) {
        checks[driver.name] = { params in driver.validate(params) }
    }

    public mutating func add(_ name: String, _ check: @escaping Check) {
        checks[name] = check
    }

    /// The problems of `params` for `driver`; nil when no driver of that name is known.
    public func problems(driver: String, params: SpecMap) -> [ParamProblem]? {
        checks[driver].map { $0(params) }
    }

    public var names: [String] { checks.keys.sorted() }
}
