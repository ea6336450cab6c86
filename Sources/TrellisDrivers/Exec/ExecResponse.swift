import TrellisDomain

/// The JSON an exec program reads on stdin and prints on stdout.
enum ExecResponse {
    /// Exit status 75, `EX_TEMPFAIL` in sysexits.h: try again later.
    static let temporaryFailure: Int32 = 75

    /// The resource as the program reads it.
    static func input(for request: DriverRequest, operation: ExecOperation, outputs: SpecMap) -> String {
        let document: SpecMap = [
            "operation": .string(operation.rawValue),
            "environment": .string(request.environment),
            "resource": .string(request.resource),
            "type": .string(request.type),
            "environmentDirectory": request.environmentDirectory.map(SpecValue.string) ?? .null,
            "params": .map(request.params),
            "outputs": .map(outputs),
        ]
        return document.canonicalJSON + "\n"
    }

    /// The object the program printed, after checking how it ended; nil when it printed
    /// nothing (allowed for delete only).
    static func object(
        from result: ProgramResult, operation: ExecOperation, program: String, timeout: Duration
    ) throws(DriverError) -> SpecMap? {
        let subject = "exec: \(operation) program \(program)"
        let tail = result.errorTail.isEmpty ? "" : ": " + result.errorTail.joined(separator: " | ")
        if result.timedOut {
            throw DriverError("\(subject) timed out after \(SpecDuration.format(timeout)) and was killed\(tail)")
        }
        if result.cancelled {
            throw DriverError("\(subject) was stopped: the step was cancelled\(tail)", retryable: true)
        }
        switch result.termination {
        case .signalled(let signal):
            throw DriverError("\(subject) was killed by signal \(signal)\(tail)")
        case .exited(temporaryFailure):
            throw DriverError(
                "\(subject) exited with status 75 (temporary failure, will retry)\(tail)", retryable: true)
        case .exited(let status) where status != 0:
            throw DriverError("\(subject) exited with status \(status)\(tail)")
        case .exited:
            break
        }

        guard !result.outputTruncated else {
            throw DriverError("\(subject) printed more than \(result.output.count) bytes on stdout")
        }
        let text = result.output.drop { $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }
        if text.isEmpty && operation == .delete { return nil }
        guard text.first == UInt8(ascii: "{") else {
            throw DriverError("\(subject) printed \(describe(text)) on stdout, not a JSON object\(tail)")
        }
        let values: [SpecValue]
        do {
            values = try SpecDecoder().values(Array(text), file: "stdout")
        } catch {
            throw DriverError("\(subject) printed invalid JSON on stdout: \(error.errors.first?.message ?? "\(error)")")
        }
        guard values.count == 1, let object = values[0].mapValue else {
            throw DriverError("\(subject) printed something other than one JSON object on stdout")
        }
        return object
    }

    /// An apply program's outputs and secret keys.
    static func outputs(from object: SpecMap?, program: String) throws(DriverError) -> DriverOutputs {
        let subject = "exec: apply program \(program)"
        let object = object ?? [:]
        for key in object.keys where key != "outputs" && key != "secret" {
            throw DriverError("\(subject) printed an unknown field \(key) (expected outputs, secret)")
        }
        let values: SpecMap
        switch object["outputs"] {
        case nil: values = [:]
        case let value?:
            guard let map = value.mapValue else {
                throw DriverError("\(subject): outputs must be an object, found \(value.typeName)")
            }
            values = map.mapValues(\.withoutMarks)
        }
        var secret: Set<String> = []
        if let value = object["secret"] {
            guard let list = value.listValue, list.allSatisfy({ $0.stringValue != nil }) else {
                throw DriverError("\(subject): secret must be a list of output keys")
            }
            for key in list.compactMap(\.stringValue) {
                guard values[key] != nil else {
                    throw DriverError("\(subject): secret names \(key), which is not an output")
                }
                secret.insert(key)
            }
        }
        return DriverOutputs(values: values, secretKeys: secret)
    }

    /// An observe program's finding.
    static func observation(from object: SpecMap?, program: String) throws(DriverError) -> Observation {
        let subject = "exec: observe program \(program)"
        let object = object ?? [:]
        for key in object.keys where key != "state" && key != "reason" {
            throw DriverError("\(subject) printed an unknown field \(key) (expected state, reason)")
        }
        let reason = object["reason"]?.stringValue
        if let value = object["reason"], reason == nil {
            throw DriverError("\(subject): reason must be a string, found \(value.typeName)")
        }
        switch object["state"]?.stringValue {
        case "matches": return .matches
        case "drifted": return .drifted(reason ?? "the observe program reported drift")
        case "missing": return .missing(reason ?? "the observe program reported the resource missing")
        default:
            throw DriverError(
                "\(subject): state must be \"matches\", \"drifted\" or \"missing\", "
                    + "found \(object["state"]?.canonicalJSON ?? "nothing")")
        }
    }

    /// The start of unexpected stdout, for messages.
    private static func describe(_ bytes: some Collection<UInt8>) -> String {
        if bytes.isEmpty { return "nothing" }
        let text = String(decoding: bytes.prefix(80), as: UTF8.self)
        return SpecValue.string(text).canonicalJSON + (bytes.count > 80 ? "…" : "")
    }
}
