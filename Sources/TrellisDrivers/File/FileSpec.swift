import Glibc
import TrellisDomain

/// A `file` resource's params, checked and parsed.
struct FileSpec {
    static let fields = ["path", "content", "mode"]
    static let defaultMode: mode_t = 0o644

    var path: RelativePath
    var content: [UInt8]
    var mode: mode_t

    static func problems(in params: SpecMap) -> [ParamProblem] {
        var checks = ParamChecks(params)
        checks.rejectUnknown(driver: "file", allowed: fields)
        checks.require("path")
        checks.require("content")
        checks.checkPath("path")
        if let content = params["content"], !content.isNull, Self.text(of: content) == nil {
            checks.add("content", "expected a string, found \(content.typeName)")
        }
        checks.checkMode("mode")
        return checks.problems
    }

    /// The params of an apply (placeholders substituted), or the reasons they are wrong.
    init(_ params: SpecMap) throws(DriverError) {
        let problems = Self.problems(in: params)
        guard problems.isEmpty else { throw DriverError.invalidParams("file", problems) }
        self.path = try RelativePath.parsed(params["path"]!.stringValue!, field: "params.path", driver: "file")
        self.content = Array(Self.text(of: params["content"]!)!.utf8)
        self.mode = try PermissionMode.parsed(params["mode"], default: Self.defaultMode, driver: "file")
    }

    /// Content as text: a string, or a number or boolean a whole-string placeholder left
    /// (`content: ${resources.port.outputs.port}`), written as JSON writes it.
    private static func text(of value: SpecValue) -> String? {
        switch value.content {
        case .string(let text): text
        case .int, .double, .bool: value.canonicalJSON
        default: nil
        }
    }
}
