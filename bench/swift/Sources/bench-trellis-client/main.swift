import BenchSupport

await BenchClient.run(arguments: Array(CommandLine.arguments.dropFirst()))
