"""The strategy service: runs configured strategies on market events and publishes their signals."""
