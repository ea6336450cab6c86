print("trellis-agent")
