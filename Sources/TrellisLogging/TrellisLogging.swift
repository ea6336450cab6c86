// TrellisLogging
