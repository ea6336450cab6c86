// TrellisTLSTests
