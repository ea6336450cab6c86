import Glibc
import TrellisDomain

/// A `port` resource's params, checked and parsed.
struct PortSpec {
    static let fields = ["host", "range"]
    static let defaultHost = "127.0.0.1"
    /// Below Linux's default ephemeral range (32768-60999), so outgoing connections do not
    /// take the ports handed out here.
    static let defaultRange = 20000...32767

    var host: String
    var range: ClosedRange<Int>

    static func problems(in params: SpecMap) -> [ParamProblem] {
        var checks = ParamChecks(params)
        checks.rejectUnknown(driver: "port", allowed: fields)
        if let value = params["host"], !ParamChecks.isPlaceholder(value) {
            if case .failure(let failure) = host(of: value) { checks.add("host", failure.message) }
        }
        if let value = params["range"], !ParamChecks.isPlaceholder(value) {
            if case .failure(let failure) = range(of: value) { checks.add("range", failure.message) }
        }
        return checks.problems
    }

    init(_ params: SpecMap) throws(DriverError) {
        let problems = Self.problems(in: params)
        guard problems.isEmpty else { throw DriverError.invalidParams("port", problems) }
        host =
            try params["host"].map { (value) throws(DriverError) in
                try Self.host(of: value).get(driver: "port", field: "params.host")
            } ?? Self.defaultHost
        range =
            try params["range"].map { (value) throws(DriverError) in
                try Self.range(of: value).get(driver: "port", field: "params.range")
            } ?? Self.defaultRange
    }

    private static func host(of value: SpecValue) -> Result<String, ParamFailure> {
        guard let text = value.stringValue, SocketAddress(host: text, port: 0) != nil else {
            return .failure(ParamFailure("\(value.canonicalJSON) is not an IP address like 127.0.0.1 or ::1"))
        }
        return .success(text)
    }

    private static func range(of value: SpecValue) -> Result<ClosedRange<Int>, ParamFailure> {
        let bounds = value.stringValue?.split(separator: "-", omittingEmptySubsequences: false) ?? []
        guard bounds.count == 2, let low = Int(bounds[0]), let high = Int(bounds[1]), 1 <= low, low <= high,
            high <= 65535
        else {
            return .failure(ParamFailure("\(value.canonicalJSON) is not a port range like \"20000-30000\""))
        }
        return .success(low...high)
    }
}
