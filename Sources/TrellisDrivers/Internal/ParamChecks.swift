import Glibc
import TrellisDomain

/// Collects the problems with one resource's params, in field order.
struct ParamChecks {
    private(set) var problems: [ParamProblem] = []
    let params: SpecMap

    init(_ params: SpecMap) {
        self.params = params
    }

    /// Records a problem with `params.KEY`.
    mutating func add(_ key: String, _ message: String) {
        problems.append(ParamProblem(path: "params.\(key)", message: message))
    }

    /// Records every field not in `allowed`, naming the fields the driver takes.
    mutating func rejectUnknown(driver: String, allowed: [String]) {
        for key in params.keys where !allowed.contains(key) {
            add(key, "unknown param (\(driver) takes \(allowed.joined(separator: ", ")))")
        }
    }

    /// Records a problem when `key` is absent or null.
    mutating func require(_ key: String) {
        if params[key] == nil || params[key]?.isNull == true {
            add(key, "is required")
        }
    }

    /// Whether `value` still holds an output placeholder, to be substituted at apply: such
    /// a value is accepted as it stands.
    static func isPlaceholder(_ value: SpecValue) -> Bool {
        value.stringValue?.contains("${") == true
    }

    /// Checks a path param, unless it is a placeholder.
    mutating func checkPath(_ key: String) {
        guard let value = params[key] else { return }
        guard let text = value.stringValue else {
            add(key, "expected a path string, found \(value.typeName)")
            return
        }
        guard !Self.isPlaceholder(value) else { return }
        if case .failure(let failure) = RelativePath.parse(text, field: "params.\(key)") {
            add(key, failure.message)
        }
    }

    /// Checks a mode param, unless it is a placeholder.
    mutating func checkMode(_ key: String) {
        guard let value = params[key], !Self.isPlaceholder(value) else { return }
        if case .failure(let failure) = PermissionMode.parse(value) {
            add(key, failure.message)
        }
    }
}

/// Why a param's value is wrong, without the field (the caller knows it).
struct ParamFailure: Error {
    var message: String

    init(_ message: String) {
        self.message = message
    }
}

/// Permission bits as params write them: an octal string (`"0640"`, `"640"`, `"0o640"`) or
/// an integer holding the value (`0o640` in YAML, `416` in JSON).
///
/// Only the permission bits (at most 0777) are accepted: setuid, setgid and sticky bits are
/// refused, which also catches YAML's `0644` (the decimal integer 644).
enum PermissionMode {
    static func parse(_ value: SpecValue) -> Result<mode_t, ParamFailure> {
        let number: Int
        if let text = value.stringValue {
            var digits = Substring(text)
            if digits.hasPrefix("0o") { digits = digits.dropFirst(2) }
            guard !digits.isEmpty, digits.count <= 4, digits.allSatisfy({ ("0"..."7").contains($0) }),
                let parsed = Int(digits, radix: 8)
            else {
                return .failure(ParamFailure("\(value.canonicalJSON) is not an octal mode like \"0644\""))
            }
            number = parsed
        } else if let parsed = value.intValue {
            number = parsed
        } else {
            return .failure(ParamFailure("expected an octal mode string like \"0644\", found \(value.typeName)"))
        }
        guard (0...0o777).contains(number) else {
            return .failure(
                ParamFailure(
                    "\(value.canonicalJSON) is beyond 0777 (only permission bits are allowed; "
                        + "in YAML write \"0644\" or 0o644, since 0644 is the decimal 644)"))
        }
        return .success(mode_t(number))
    }

    /// The mode in `value` at apply time (`fallback` when absent), or a params error; a
    /// placeholder left unsubstituted is an error here.
    static func parsed(_ value: SpecValue?, default fallback: mode_t, driver: String) throws(DriverError) -> mode_t {
        guard let value else { return fallback }
        switch parse(value) {
        case .success(let mode): return mode
        case .failure(let failure):
            throw DriverError.invalidParams(driver, [ParamProblem(path: "params.mode", message: failure.message)])
        }
    }

    /// The mode as four octal digits, `0644`.
    static func format(_ mode: mode_t) -> String {
        let digits = String(mode & 0o7777, radix: 8)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}

extension DriverError {
    /// The failure for params that do not validate at apply time (after substitution).
    static func invalidParams(_ driver: String, _ problems: [ParamProblem]) -> DriverError {
        DriverError("\(driver): invalid params: " + problems.map(\.description).joined(separator: "; "))
    }
}
