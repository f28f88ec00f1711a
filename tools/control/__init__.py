"""The operator's controls: ``tradebus status``, ``halt``, ``resume`` and ``flatten``, each a command published over
the broker and answered by the event that confirms it."""
