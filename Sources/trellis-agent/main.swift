import Glibc
import TrellisAgent

exit(AgentCommand.run(Array(CommandLine.arguments.dropFirst())))
