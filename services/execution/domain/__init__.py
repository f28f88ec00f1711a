"""Pure execution logic: orders and their state machine, sizing, pre-trade risk, paper matching, reconciliation."""
