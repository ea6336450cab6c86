import Foundation
import Testing

/// The checkout this test file belongs to.
private let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

private struct Run {
    var status: Int32
    var output: String
}

private func run(_ arguments: [String], in directory: URL) throws -> Run {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    process.currentDirectoryURL = directory
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return Run(status: process.terminationStatus, output: String(decoding: data, as: UTF8.self))
}

private func protocInstalled() -> Bool {
    (try? run(["protoc", "--version"], in: repositoryRoot).status) == 0
}

@Suite("The code generator", .enabled(if: protocInstalled()))
struct GeneratorTests {
    /// Runs protoc with the plugin alone over `schema`, in a temporary directory.
    fileprivate func generate(_ schema: String) throws -> Run {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("trellis-gen-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try schema.write(to: directory.appendingPathComponent("schema.proto"), atomically: true, encoding: .utf8)
        let plugin = repositoryRoot.appendingPathComponent("scripts/protoc-gen-trellis-swift").path
        return try run(
            [
                "protoc", "-I", ".", "--plugin=protoc-gen-trellis-swift=\(plugin)", "--trellis-swift_out=.",
                "schema.proto",
            ],
            in: directory
        )
    }

    @Test("a recursive message type is refused, naming the cycle")
    func recursiveSchema() throws {
        let result = try generate(
            """
            syntax = "proto3";
            package trellis.cyclic.v1;
            message Tree { string name = 1; repeated Branch branches = 2; }
            message Branch { map<string, Tree> subtrees = 1; }
            """
        )
        #expect(result.status != 0)
        #expect(
            result.output.contains(
                "recursive message type: trellis.cyclic.v1.Branch.subtrees -> trellis.cyclic.v1.Branch.SubtreesEntry.value"
                    + " -> trellis.cyclic.v1.Tree.branches -> trellis.cyclic.v1.Branch"
            ),
            "\(result.output)"
        )
    }

    @Test("a message that contains itself through a oneof is refused")
    func directRecursion() throws {
        let result = try generate(
            """
            syntax = "proto3";
            package trellis.cyclic.v1;
            message Node { oneof kind { Node child = 1; string leaf = 2; } }
            """
        )
        #expect(result.status != 0)
        #expect(result.output.contains("trellis.cyclic.v1.Node.child -> trellis.cyclic.v1.Node"), "\(result.output)")
    }

    @Test("a proto3 optional field is refused, since protoc-c cannot generate it")
    func proto3Optional() throws {
        let result = try generate(
            """
            syntax = "proto3";
            package trellis.optional.v1;
            message M { optional int32 n = 1; }
            """
        )
        #expect(result.status != 0)
        #expect(result.output.contains("proto3 `optional`"), "\(result.output)")
    }

    @Test("the committed generated code is what scripts/gen-proto produces")
    func generatedCodeIsCurrent() throws {
        let result = try run(["bash", "scripts/gen-proto", "--check"], in: repositoryRoot)
        #expect(result.status == 0, "\(result.output)")
    }
}
