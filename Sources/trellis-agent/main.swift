import Glibc
import TrellisAgent

exit(await AgentCommand.main(Array(CommandLine.arguments.dropFirst())))
