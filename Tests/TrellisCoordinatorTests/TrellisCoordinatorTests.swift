// TrellisCoordinatorTests
