// TrellisRPC
