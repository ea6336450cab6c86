import TrellisDomain

/// A resource that does nothing, slowly or not, like Terraform's null resource: for
/// examples, tests and benchmarks of the engine itself.
///
/// Params:
/// - `delay`: a duration (`20ms`, `1s`) the apply takes.
/// - `fail`: a message; apply fails with it (not retryable).
/// - `outputs`: a map returned as the resource's outputs (placeholders allowed: they are
///   substituted before the driver sees them).
/// - `secret`: a list of output keys to mark secret.
public struct NoopDriver: ResourceDriver {
    public let name = "noop"

    /// Called once per completed apply, for tests that count side effects.
    private let onApply: (@Sendable (DriverRequest) -> Void)?

    public init(onApply: (@Sendable (DriverRequest) -> Void)? = nil) {
        self.onApply = onApply
    }

    public func validate(_ params: SpecMap) -> [ParamProblem] {
        var problems: [ParamProblem] = []
        for (key, value) in params {
            switch key {
            case "delay":
                if let text = value.stringValue, SpecDuration.parse(text) == nil && !text.contains("${") {
                    problems.append(
                        ParamProblem(path: "params.delay", message: "\(text) is not a duration like 20ms or 1s"))
                } else if value.stringValue == nil {
                    problems.append(ParamProblem(path: "params.delay", message: "expected a duration string"))
                }
            case "fail":
                if value.stringValue == nil {
                    problems.append(ParamProblem(path: "params.fail", message: "expected a message string"))
                }
            case "outputs":
                if value.mapValue == nil {
                    problems.append(ParamProblem(path: "params.outputs", message: "expected a map"))
                }
            case "secret":
                if value.listValue?.allSatisfy({ $0.stringValue != nil }) != true {
                    problems.append(ParamProblem(path: "params.secret", message: "expected a list of output keys"))
                }
            default:
                problems.append(
                    ParamProblem(
                        path: "params.\(key)", message: "unknown param (noop takes delay, fail, outputs, secret)"))
            }
        }
        return problems
    }

    public func apply(_ request: DriverRequest) async throws(DriverError) -> DriverOutputs {
        if let text = request.params["delay"]?.stringValue {
            guard let delay = SpecDuration.parse(text) else {
                throw DriverError("noop: params.delay \(text) is not a duration")
            }
            do {
                try await Task.sleep(for: delay)
            } catch {
                throw DriverError("noop: cancelled")
            }
        }
        if let message = request.params["fail"]?.stringValue {
            throw DriverError(message)
        }
        onApply?(request)
        let secret = Set(request.params["secret"]?.listValue?.compactMap(\.stringValue) ?? [])
        return DriverOutputs(values: request.params["outputs"]?.mapValue ?? [:], secretKeys: secret)
    }

    public func observe(_ request: DriverRequest, applied: DriverOutputs) async throws(DriverError) -> Observation {
        .matches
    }

    public func delete(_ request: DriverRequest) async throws(DriverError) {}
}
