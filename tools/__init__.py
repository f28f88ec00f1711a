"""What composes and operates the four services: the ``tradebus`` command, the backtester, the local suite
supervisor, and the operator tools (``tail``, ``dlq``, ``schema``). Services never import from here."""
