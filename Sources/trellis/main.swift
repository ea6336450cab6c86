import Glibc
import TrellisCLI

exit(await CLI.run(Array(CommandLine.arguments.dropFirst())))
