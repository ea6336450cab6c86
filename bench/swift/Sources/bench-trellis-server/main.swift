import BenchSupport

await BenchServer.run(arguments: Array(CommandLine.arguments.dropFirst()))
