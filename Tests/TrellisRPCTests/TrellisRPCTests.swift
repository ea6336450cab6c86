// TrellisRPCTests
