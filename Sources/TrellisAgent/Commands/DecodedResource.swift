import TrellisAPI
import TrellisDomain
import TrellisDrivers

/// Names one resource of one environment on this agent.
struct ResourceKey: Hashable, Sendable, CustomStringConvertible {
    var environment: String
    var resource: String

    var description: String { "\(environment)/\(resource)" }
}

/// An ``TrellisV1/AgentResource`` with its JSON read: what a driver request is built from.
struct DecodedResource: Sendable {
    var key: ResourceKey
    var type: String
    var driver: String
    var params: SpecMap
    /// What the last apply returned; `nil` when never applied (`outputs_json` is `{}`).
    var applied: DriverOutputs?

    /// JSON from the coordinator is far below this; the bound keeps a bad message from
    /// taking unbounded memory while it is parsed.
    private static let decoder: SpecDecoder = {
        var limits = SpecLimits.default
        limits.maxInputBytes = 16 << 20
        return SpecDecoder(limits: limits)
    }()

    /// Reads `resource`; the error says which field is wrong.
    static func decode(_ resource: TrellisV1.AgentResource) -> Result<DecodedResource, DriverError> {
        let key = ResourceKey(environment: resource.environment, resource: resource.name)
        guard isSafeEnvironmentName(resource.environment) else {
            return .failure(
                DriverError("agent: environment name \"\(resource.environment)\" cannot be a directory name"))
        }
        let params: SpecMap
        switch object(resource.paramsJson, field: "params_json", of: key) {
        case .success(let map): params = map
        case .failure(let error): return .failure(error)
        }
        var applied: DriverOutputs? = nil
        let outputs = resource.outputsJson.trimmingSpaces
        if !outputs.isEmpty && outputs != "{}" {
            switch object(resource.outputsJson, field: "outputs_json", of: key) {
            case .success(let map): applied = DriverOutputs(values: map, secretKeys: Set(resource.secretOutputKeys))
            case .failure(let error): return .failure(error)
            }
        }
        return .success(
            DecodedResource(key: key, type: resource.type, driver: resource.driver, params: params, applied: applied))
    }

    /// A request for the driver, in the environment's directory under `dataDirectory`.
    func request(
        dataDirectory: AgentDataDirectory, requestID: String, attempt: Int, output: (any OutputSink)?
    ) -> DriverRequest {
        DriverRequest(
            environment: key.environment, resource: key.resource, type: type, params: params, attempt: attempt,
            requestID: requestID, environmentDirectory: dataDirectory.environmentDirectory(key.environment),
            output: output, applied: applied)
    }

    private static func object(_ text: String, field: String, of key: ResourceKey) -> Result<SpecMap, DriverError> {
        let values: [SpecValue]
        do {
            values = try decoder.values(Array(text.utf8), file: "\(key).\(field)")
        } catch {
            return .failure(DriverError("agent: \(key): \(field) is not valid JSON: \(error)"))
        }
        guard values.count == 1, let map = values[0].withoutMarks.mapValue else {
            return .failure(DriverError("agent: \(key): \(field) is not a JSON object"))
        }
        return .success(map)
    }

    /// A single path component that is not `.` or `..`.
    static func isSafeEnvironmentName(_ name: String) -> Bool {
        !name.isEmpty && name != "." && name != ".." && !name.utf8.contains(UInt8(ascii: "/"))
            && !name.utf8.contains(0)
    }
}

extension String {
    fileprivate var trimmingSpaces: Substring {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }
        guard let start = firstIndex(where: { !isSpace($0) }), let end = lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return self[start...end]
    }
}

extension DriverOutputs {
    /// The outputs as the wire carries them: a JSON object and the secret keys, sorted.
    var wireForm: (json: String, secretKeys: [String]) {
        (values.canonicalJSON, secretKeys.sorted())
    }
}
