// TrellisWireTests
