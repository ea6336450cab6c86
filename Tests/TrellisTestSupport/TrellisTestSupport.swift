// TrellisTestSupport
