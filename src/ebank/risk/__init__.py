"""Real-time risk: every login, payment and security change passes through ``assess``."""
