"""``tradebus optimize``: search strategy and settings parameters with optuna, on one machine or many."""
