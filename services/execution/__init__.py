"""The execution service: turns signals and order commands into orders, checks risk, and talks to the broker."""
