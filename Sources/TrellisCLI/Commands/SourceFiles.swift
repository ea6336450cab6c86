import Glibc
import TrellisAPI
import TrellisCommandLine

/// The `-f FILE` arguments of apply and plan, read into source files for the server.
enum SourceFiles {
    static func take(_ scanner: inout ArgumentScanner) throws -> [TrellisV1.SourceFile] {
        let paths = try scanner.values("-f") + scanner.values("--filename")
        guard !paths.isEmpty else {
            throw UsageError("-f FILE is required (several are allowed; - reads standard input)")
        }
        return try paths.map { path in
            if path == "-" { return TrellisV1.SourceFile(name: "(stdin)", content: readStandardInput()) }
            guard let text = TextFile.read(path) else {
                throw CLIError("cannot read \(path): \(String(cString: strerror(errno)))")
            }
            return TrellisV1.SourceFile(name: path, content: Array(text.utf8))
        }
    }

    private static func readStandardInput() -> [UInt8] {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            bytes.append(contentsOf: chunk[..<count])
        }
        return bytes
    }
}

/// `-o json` or the default text.
enum OutputFormat {
    case text
    case json

    static func take(_ scanner: inout ArgumentScanner) throws -> OutputFormat {
        switch try scanner.value("-o") ?? scanner.value("--output") {
        case nil, "text": return .text
        case "json": return .json
        case let other?: throw UsageError("-o: unknown output format \(other) (use json)")
        }
    }
}
