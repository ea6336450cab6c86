import TrellisDomain

/// Reads the fields of `process` params one by one, collecting every problem with the
/// path of the field it concerns, so that one validation reports them all.
struct ParamReader {
    let allowPlaceholders: Bool
    private(set) var problems: [ParamProblem] = []

    init(allowPlaceholders: Bool) {
        self.allowPlaceholders = allowPlaceholders
    }

    mutating func problem(_ path: String, _ message: String) {
        problems.append(ParamProblem(path: path, message: message))
    }

    /// Whether `value` is a string still holding a placeholder, acceptable before
    /// substitution in place of a value of any type.
    private func isPlaceholder(_ value: SpecValue) -> Bool {
        allowPlaceholders && value.stringValue?.contains("${") == true
    }

    /// An argv: a non-empty list of strings and numbers (placeholders such as a port
    /// arrive as numbers once substituted).
    mutating func command(_ value: SpecValue?, path: String, required: Bool) -> [String] {
        guard let value else {
            if required { problem(path, "required: the program and its arguments, as a list") }
            return []
        }
        guard let items = value.listValue else {
            problem(path, "expected a list (the argv; it is never passed through a shell), not a \(value.typeName)")
            return []
        }
        guard !items.isEmpty else {
            problem(path, "must name a program")
            return []
        }
        var argv: [String] = []
        for (index, item) in items.enumerated() {
            switch item.content {
            case .string(let text):
                if text.utf8.contains(0) {
                    problem("\(path)[\(index)]", "must not contain a NUL byte")
                } else if index == 0, text.isEmpty {
                    problem("\(path)[0]", "must name a program")
                }
                argv.append(text)
            case .int(let number):
                argv.append(String(number))
            case .double(let number) where number.isFinite:
                argv.append(number.description)
            default:
                problem("\(path)[\(index)]", "expected a string or a number, not a \(item.typeName)")
            }
        }
        return argv
    }

    mutating func environment(_ value: SpecValue?) -> [String: String] {
        guard let value else { return [:] }
        guard let map = value.mapValue else {
            problem("params.env", "expected a map of names to strings, not a \(value.typeName)")
            return [:]
        }
        var environment: [String: String] = [:]
        for (name, item) in map {
            let path = "params.env.\(name)"
            if name.isEmpty || name.contains("=") || name.utf8.contains(0) {
                problem(path, "is not a variable name")
                continue
            }
            switch item.content {
            case .string(let text) where !text.utf8.contains(0):
                environment[name] = text
            case .int(let number):
                environment[name] = String(number)
            case .bool(let flag):
                environment[name] = flag ? "true" : "false"
            default:
                problem(path, "expected a string, not a \(item.typeName)")
            }
        }
        return environment
    }

    /// A relative path that stays inside the environment's directory; symlinks are
    /// checked where the path is resolved, as they exist only on the host.
    mutating func workingDirectory(_ value: SpecValue?) -> String? {
        guard let value else { return nil }
        guard let text = value.stringValue else {
            problem("params.workingDir", "expected a relative path, not a \(value.typeName)")
            return nil
        }
        if isPlaceholder(value) { return text }
        if text.hasPrefix("/") {
            problem("params.workingDir", "must be relative to the environment's directory, not absolute")
        } else if text.split(separator: "/").contains("..") {
            problem("params.workingDir", "must stay inside the environment's directory (no ..)")
        } else if text.utf8.contains(0) {
            problem("params.workingDir", "must not contain a NUL byte")
        }
        let components = text.split(separator: "/").filter { $0 != "." }
        return components.isEmpty ? nil : components.joined(separator: "/")
    }

    mutating func restart(_ value: SpecValue?) -> ProcessSpec.RestartPolicy {
        guard let value else { return .onFailure }
        guard let text = value.stringValue, let policy = ProcessSpec.RestartPolicy(rawValue: text) else {
            problem("params.restart", "expected always, on-failure or never")
            return .onFailure
        }
        return policy
    }

    mutating func health(_ value: SpecValue?) -> ProcessSpec.Health? {
        guard let value else { return nil }
        guard let map = value.mapValue else {
            problem("params.health", "expected a map with one of tcp, http or exec")
            return nil
        }
        let known = ["tcp", "http", "exec", "interval", "timeout", "threshold"]
        for key in map.keys where !known.contains(key) {
            problem("params.health.\(key)", "unknown field (health takes \(known.joined(separator: ", ")))")
        }
        let kinds = ["tcp", "http", "exec"].filter { map[$0] != nil }
        guard kinds.count == 1 else {
            problem("params.health", "expected exactly one of tcp, http or exec, found \(kinds.count)")
            return nil
        }

        var check = ProcessSpec.HealthCheck.exec([])
        if let port = map["tcp"] {
            check = .tcp(port: self.port(port, path: "params.health.tcp"))
        } else if let http = map["http"] {
            check = httpCheck(http)
        } else if let exec = map["exec"] {
            check = .exec(command(exec, path: "params.health.exec", required: true))
        }
        let interval = duration(map["interval"], path: "params.health.interval", default: .seconds(2))
        let timeout = duration(map["timeout"], path: "params.health.timeout", default: .seconds(1))
        var threshold = 3
        if let value = map["threshold"] {
            if let number = value.intValue, number >= 1, number <= 1_000 {
                threshold = number
            } else if !isPlaceholder(value) {
                problem("params.health.threshold", "expected a count of consecutive failures from 1 to 1000")
            }
        }
        return ProcessSpec.Health(check: check, interval: interval, timeout: timeout, threshold: threshold)
    }

    private mutating func httpCheck(_ value: SpecValue) -> ProcessSpec.HealthCheck {
        guard let map = value.mapValue else {
            problem("params.health.http", "expected a map with port, path and status")
            return .http(port: 0, path: "/", status: 200)
        }
        for key in map.keys where !["port", "path", "status"].contains(key) {
            problem("params.health.http.\(key)", "unknown field (http takes port, path, status)")
        }
        var port = 0
        if let value = map["port"] {
            port = self.port(value, path: "params.health.http.port")
        } else {
            problem("params.health.http.port", "required")
        }
        var path = "/"
        if let value = map["path"] {
            if let text = value.stringValue, text.hasPrefix("/"),
                !text.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F })
            {
                path = text
            } else if !isPlaceholder(value) {
                problem("params.health.http.path", "expected a path starting with / and without spaces")
            }
        }
        var status = 200
        if let value = map["status"] {
            if let number = value.intValue, (100...599).contains(number) {
                status = number
            } else if !isPlaceholder(value) {
                problem("params.health.http.status", "expected an HTTP status code from 100 to 599")
            }
        }
        return .http(port: port, path: path, status: status)
    }

    private mutating func port(_ value: SpecValue, path: String) -> Int {
        if let number = value.intValue, (1...65_535).contains(number) { return number }
        if let text = value.stringValue, let number = Int(text), (1...65_535).contains(number) { return number }
        if !isPlaceholder(value) { problem(path, "expected a TCP port from 1 to 65535") }
        return 0
    }

    private mutating func duration(_ value: SpecValue?, path: String, default: Duration) -> Duration {
        guard let value else { return `default` }
        if let text = value.stringValue, let duration = SpecDuration.parse(text), duration > .zero {
            return duration
        }
        if !isPlaceholder(value) { problem(path, "expected a positive duration like 500ms or 2s") }
        return `default`
    }

    mutating func limits(_ value: SpecValue?) -> ProcessSpec.Limits {
        var limits = ProcessSpec.Limits()
        guard let value else { return limits }
        guard let map = value.mapValue else {
            problem("params.limits", "expected a map with memory, openFiles or cpuSeconds")
            return limits
        }
        for (key, item) in map {
            let path = "params.limits.\(key)"
            switch key {
            case "memory":
                if let bytes = Self.byteCount(item), bytes >= 1 << 20 {
                    limits.memoryBytes = bytes
                } else if !isPlaceholder(item) {
                    problem(path, "expected a size of at least 1Mi, like 256Mi or 2Gi")
                }
            case "openFiles":
                if let number = item.intValue, (3...1 << 20).contains(number) {
                    limits.openFiles = number
                } else if !isPlaceholder(item) {
                    problem(path, "expected a count from 3 to 1048576")
                }
            case "cpuSeconds":
                if let number = item.intValue, number >= 1 {
                    limits.cpuSeconds = number
                } else if !isPlaceholder(item) {
                    problem(path, "expected a positive number of seconds")
                }
            default:
                problem(path, "unknown limit (limits are memory, openFiles, cpuSeconds)")
            }
        }
        return limits
    }

    /// `256Mi`, `2Gi`, `500M`, or a plain number of bytes.
    static func byteCount(_ value: SpecValue) -> Int? {
        if let number = value.intValue { return number > 0 ? number : nil }
        guard let text = value.stringValue else { return nil }
        let units: [(String, Int)] = [
            ("Ki", 1 << 10), ("Mi", 1 << 20), ("Gi", 1 << 30), ("Ti", 1 << 40),
            ("K", 1_000), ("M", 1_000_000), ("G", 1_000_000_000), ("T", 1_000_000_000_000),
        ]
        for (suffix, size) in units where text.hasSuffix(suffix) {
            guard let number = Int(text.dropLast(suffix.count)), number > 0 else { return nil }
            let (bytes, overflow) = number.multipliedReportingOverflow(by: size)
            return overflow ? nil : bytes
        }
        return Int(text).flatMap { $0 > 0 ? $0 : nil }
    }
}
