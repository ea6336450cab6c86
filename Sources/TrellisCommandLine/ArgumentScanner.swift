/// A usage error: the message says which flag and what was wrong.
public struct UsageError: Error, CustomStringConvertible, Sendable {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

/// Reads `--flag VALUE`, `--flag=VALUE` and `--switch` arguments in any order, so each
/// executable's options read as a short list of `take` calls followed by ``finish()``,
/// which rejects whatever was not understood.
public struct ArgumentScanner {
    private var remaining: [String]
    /// Positional arguments, in order, collected as flags are taken.
    public private(set) var positionals: [String] = []

    public init(_ arguments: [String]) {
        self.remaining = arguments
    }

    /// Takes the value of `--name`, the last one given if repeated.
    public mutating func value(_ name: String) throws(UsageError) -> String? {
        try values(name).last
    }

    /// Takes every value of a repeatable `--name`.
    public mutating func values(_ name: String) throws(UsageError) -> [String] {
        var found: [String] = []
        var kept: [String] = []
        var index = 0
        while index < remaining.count {
            let argument = remaining[index]
            if argument == name {
                guard index + 1 < remaining.count else { throw UsageError("\(name) needs a value") }
                found.append(remaining[index + 1])
                index += 2
                continue
            }
            if argument.hasPrefix(name + "=") {
                found.append(String(argument.dropFirst(name.count + 1)))
            } else {
                kept.append(argument)
            }
            index += 1
        }
        remaining = kept
        return found
    }

    /// Takes a switch; true if `--name` was given.
    public mutating func flag(_ name: String) -> Bool {
        let before = remaining.count
        remaining.removeAll { $0 == name }
        return remaining.count != before
    }

    /// Ends scanning: arguments that look like flags are unknown; the rest are
    /// positionals.
    public mutating func finish(allowPositionals: Bool = false) throws(UsageError) {
        for argument in remaining {
            if argument.hasPrefix("-") && argument != "-" { throw UsageError("unknown option \(argument)") }
            guard allowPositionals else { throw UsageError("unexpected argument \(argument)") }
            positionals.append(argument)
        }
        remaining = []
    }
}
