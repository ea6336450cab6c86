print("trellisd")
