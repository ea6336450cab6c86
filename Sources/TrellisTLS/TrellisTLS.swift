// TrellisTLS
