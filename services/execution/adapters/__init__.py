"""The execution service's links to the outside: the broker interface, the paper broker, the order store."""
