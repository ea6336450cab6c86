// TrellisCLI
