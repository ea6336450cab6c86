import TrellisDomain

/// A path param checked to stay inside the environment directory: relative, without `..`,
/// held as its components (`a/./b//c` is `a`, `b`, `c`).
///
/// The check is lexical; symlinks on the way are refused when the path is opened, by
/// `EnvironmentDirectory`.
struct RelativePath: Sendable, Hashable, CustomStringConvertible {
    /// The param's field, for messages: `params.path`.
    let field: String
    /// The path as the param wrote it.
    let text: String
    /// The components, none of them empty, `.` or `..`.
    let components: [String]

    /// Linux's limits: `NAME_MAX` for a component, `PATH_MAX` for the whole.
    static let maximumComponentLength = 255
    static let maximumLength = 4095

    /// The normalised path, `a/b/c`.
    var description: String { components.joined(separator: "/") }

    /// The last component.
    var name: String { components[components.count - 1] }

    /// `text` as a path inside the environment directory, or the problem with it.
    static func parse(_ text: String, field: String) -> Result<RelativePath, ParamFailure> {
        func problem(_ message: String) -> Result<RelativePath, ParamFailure> {
            .failure(ParamFailure(message))
        }
        let quoted = SpecValue.string(text).canonicalJSON
        guard !text.isEmpty else { return problem("must not be empty") }
        guard !text.utf8.contains(0) else { return problem("\(quoted) contains a NUL character") }
        guard text.utf8.count <= maximumLength else {
            return problem("is longer than \(maximumLength) bytes")
        }
        guard !text.hasPrefix("/") else {
            return problem("\(quoted) is absolute; paths are relative to the environment directory")
        }
        var components: [String] = []
        for part in text.split(separator: "/", omittingEmptySubsequences: true) {
            switch part {
            case ".": continue
            case "..": return problem("\(quoted) leaves the environment directory")
            default:
                guard part.utf8.count <= maximumComponentLength else {
                    return problem("\(quoted) has a component longer than \(maximumComponentLength) bytes")
                }
                components.append(String(part))
            }
        }
        guard !components.isEmpty else { return problem("\(quoted) names the environment directory itself") }
        return .success(RelativePath(field: field, text: text, components: components))
    }

    /// `text` as a path at apply time, or a params error.
    static func parsed(_ text: String, field: String, driver: String) throws(DriverError) -> RelativePath {
        switch parse(text, field: field) {
        case .success(let path): return path
        case .failure(let failure):
            throw DriverError.invalidParams(driver, [ParamProblem(path: field, message: failure.message)])
        }
    }
}
