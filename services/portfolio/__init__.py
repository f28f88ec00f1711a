"""The portfolio service: the account ledger, performance metrics and the risk rules it enforces."""
