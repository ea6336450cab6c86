import Foundation

/// What a finished process printed and how it ended.
public struct ProcessOutcome: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
}

/// Runs a built executable of this package (`trellis`, `trellisd`) to completion.
public func runBuiltExecutable(
    _ name: String, _ arguments: [String], environment: [String: String] = [:]
) async throws -> ProcessOutcome {
    try await runBlocking { try runBuiltExecutableBlocking(name, arguments, environment: environment) }
}

private func runBuiltExecutableBlocking(
    _ name: String, _ arguments: [String], environment: [String: String]
) throws -> ProcessOutcome {
    let binary = (TrellisdProcess.binaryPath as NSString).deletingLastPathComponent + "/" + name
    let process = Process()
    process.executableURL = URL(fileURLWithPath: binary)
    process.arguments = arguments
    if !environment.isEmpty {
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
    }
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    // Read both pipes before waiting, so a chatty child cannot block on a full pipe.
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    let stderr = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return ProcessOutcome(
        status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
        stderr: String(decoding: stderr, as: UTF8.self))
}
