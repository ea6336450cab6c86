// TrellisAgent
