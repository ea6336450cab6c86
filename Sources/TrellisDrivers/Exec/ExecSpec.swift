import TrellisDomain

/// An `exec` resource's params, checked and parsed.
struct ExecSpec {
    static let fields = ["apply", "observe", "delete", "timeout", "env"]
    static let defaultTimeout: Duration = .seconds(60)
    /// A program stuck for longer than this is a mistake, not a slow resource.
    static let maximumTimeout: Duration = .seconds(24 * 3600)

    var apply: [String]
    var observe: [String]?
    var delete: [String]?
    var timeout: Duration
    var environment: [(String, String)]

    static func problems(in params: SpecMap) -> [ParamProblem] {
        var checks = ParamChecks(params)
        checks.rejectUnknown(driver: "exec", allowed: fields)
        checks.require("apply")
        for key in ["apply", "observe", "delete"] {
            guard let value = params[key], !value.isNull else { continue }
            if case .failure(let failure) = arguments(of: value) { checks.add(key, failure.message) }
        }
        if let value = params["timeout"], !ParamChecks.isPlaceholder(value),
            case .failure(let failure) = timeout(of: value)
        {
            checks.add("timeout", failure.message)
        }
        if let value = params["env"] {
            if case .failure(let failure) = environment(of: value) { checks.add("env", failure.message) }
        }
        return checks.problems
    }

    init(_ params: SpecMap) throws(DriverError) {
        let problems = Self.problems(in: params)
        guard problems.isEmpty else { throw DriverError.invalidParams("exec", problems) }
        func argv(_ key: String) throws(DriverError) -> [String]? {
            guard let value = params[key], !value.isNull else { return nil }
            return try Self.arguments(of: value).get(driver: "exec", field: "params.\(key)")
        }
        apply = try argv("apply")!
        observe = try argv("observe")
        delete = try argv("delete")
        timeout =
            try params["timeout"].map { (value) throws(DriverError) in
                try Self.timeout(of: value).get(driver: "exec", field: "params.timeout")
            } ?? Self.defaultTimeout
        environment =
            try params["env"].map { (value) throws(DriverError) in
                try Self.environment(of: value).get(driver: "exec", field: "params.env")
            } ?? []
    }

    /// An argv list: strings, or numbers and booleans a placeholder left, which are written
    /// as JSON writes them; the program itself must be a non-empty string.
    private static func arguments(of value: SpecValue) -> Result<[String], ParamFailure> {
        guard let items = value.listValue else {
            return .failure(ParamFailure("expected a list of strings (program and arguments), found \(value.typeName)"))
        }
        guard let program = items.first?.stringValue, !program.isEmpty else {
            return .failure(ParamFailure("the first element must be the program, a non-empty string"))
        }
        var arguments = [program]
        for (index, item) in items.enumerated().dropFirst() {
            guard let text = scalarText(item) else {
                return .failure(ParamFailure("element \(index) is a \(item.typeName), expected a string"))
            }
            arguments.append(text)
        }
        guard arguments.allSatisfy({ !$0.utf8.contains(0) }) else {
            return .failure(ParamFailure("arguments may not contain NUL characters"))
        }
        return .success(arguments)
    }

    private static func timeout(of value: SpecValue) -> Result<Duration, ParamFailure> {
        guard let text = value.stringValue else {
            return .failure(ParamFailure("expected a duration like 30s, found \(value.typeName)"))
        }
        guard let duration = SpecDuration.parse(text), duration > .zero else {
            return .failure(ParamFailure("\(value.canonicalJSON) is not a positive duration like 30s or 2m"))
        }
        guard duration <= maximumTimeout else { return .failure(ParamFailure("may be at most 24h")) }
        return .success(duration)
    }

    private static func environment(of value: SpecValue) -> Result<[(String, String)], ParamFailure> {
        guard let map = value.mapValue else {
            return .failure(ParamFailure("expected a map of variable names to strings, found \(value.typeName)"))
        }
        var entries: [(String, String)] = []
        for (name, item) in map {
            guard !name.isEmpty, !name.contains("="), !name.utf8.contains(0) else {
                return .failure(ParamFailure("\(SpecValue.string(name).canonicalJSON) is not a variable name"))
            }
            guard let text = scalarText(item), !text.utf8.contains(0) else {
                return .failure(ParamFailure("\(name) is a \(item.typeName), expected a string"))
            }
            entries.append((name, text))
        }
        return .success(entries)
    }

    private static func scalarText(_ value: SpecValue) -> String? {
        switch value.content {
        case .string(let text): text
        case .int, .double, .bool: value.canonicalJSON
        default: nil
        }
    }
}

extension Result where Failure == ParamFailure {
    /// The value, or a params error naming `field`.
    func get(driver: String, field: String) throws(DriverError) -> Success {
        switch self {
        case .success(let value): return value
        case .failure(let failure):
            throw DriverError.invalidParams(driver, [ParamProblem(path: field, message: failure.message)])
        }
    }
}
