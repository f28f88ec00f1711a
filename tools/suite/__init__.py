"""The whole suite on one machine: the four services as local processes (``tradebus up``), and ``tradebus run``."""
