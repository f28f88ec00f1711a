"""Command-line options the broker tools share."""

from __future__ import annotations

import argparse

from shared.messaging.topology import DEFAULT_NAMESPACE


def add_broker_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--namespace`` and ``--url`` to ``parser``."""
    parser.add_argument("--namespace", default=DEFAULT_NAMESPACE,
                        help="prefix of exchange and queue names (default: %(default)s)")
    parser.add_argument("--url", help="broker URL (default: $AMQP_URL, else amqp://guest:guest@localhost:5672/)")


def positive_int(text: str) -> int:
    """Parse a count that must be at least 1."""
    value = int(text) if text.isdigit() else 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return value
