// TrellisCoordinator
