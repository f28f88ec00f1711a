"""Operator tools on a running broker: ``tail``, ``dlq``, and the JSON Schemas of the contracts."""
