// TrellisAPI
