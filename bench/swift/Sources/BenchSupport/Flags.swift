import TrellisLogging

#if canImport(Glibc)
import Glibc
#endif

/// `--name value` pairs, as the benchmark contract wants them: every flag takes a value,
/// and an unknown flag is a usage error, so that a typo in the harness cannot silently
/// run the wrong benchmark.
public struct BenchFlags: Sendable {
    /// The program's name, for messages.
    public let program: String
    private var values: [String: String]

    /// Parses `arguments` (without the program name) against `defaults`; an empty default
    /// marks a flag that must be given. Exits with status 2 on a usage error.
    public init(program: String, arguments: [String], defaults: [String: String]) {
        self.program = program
        self.values = defaults
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            guard argument.hasPrefix("--"), index + 1 < arguments.count else {
                Bench.fail(program, "expected --flag value, got '\(argument)'", status: 2)
            }
            let name = String(argument.dropFirst(2))
            guard values[name] != nil else {
                Bench.fail(program, "unknown flag --\(name)", status: 2)
            }
            values[name] = arguments[index + 1]
            index += 2
        }
    }

    /// The value of a flag that must not be empty.
    public func string(_ name: String) -> String {
        guard let value = values[name], !value.isEmpty else {
            Bench.fail(program, "missing --\(name)", status: 2)
        }
        return value
    }

    /// A non-negative integer flag.
    public func int(_ name: String) -> Int {
        let text = string(name)
        guard let value = Int(text), value >= 0 else {
            Bench.fail(program, "--\(name) wants a non-negative integer, got '\(text)'", status: 2)
        }
        return value
    }

    /// A non-negative number flag.
    public func double(_ name: String) -> Double {
        let text = string(name)
        guard let value = Double(text), value >= 0, value.isFinite else {
            Bench.fail(program, "--\(name) wants a non-negative number, got '\(text)'", status: 2)
        }
        return value
    }

    /// The contents of the file a flag names. Exits with status 1 when it cannot be read.
    public func fileContents(_ name: String) -> String {
        let path = string(name)
        guard let file = fopen(path, "rb") else {
            Bench.fail(program, "cannot read --\(name) \(path): \(String(cString: strerror(errno)))")
        }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = fread(&chunk, 1, chunk.count, file)
            if count == 0 { break }
            bytes.append(contentsOf: chunk[..<count])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// What both programs share: failing with a message, writing lines unbuffered.
public enum Bench {
    /// Writes `program: message` to standard error and exits with `status`.
    public static func fail(_ program: String, _ message: String, status: Int32 = 1) -> Never {
        FileDescriptorLogSink.writeLine("\(program): \(message)", to: 2)
        exit(status)
    }

    /// Writes one line to standard output with a single write(2), so that the harness
    /// sees it at once: there is no stdio buffer to flush.
    public static func printLine(_ text: String) {
        FileDescriptorLogSink.writeLine(text, to: 1)
    }

    /// Where the runtime logs: standard error, warnings and up.
    public static let logSink: any LogSink = FileDescriptorLogSink(fileDescriptor: 2, minimumLevel: .warning)
}
