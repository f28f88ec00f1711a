"""Run the pipeline benchmark: ``python -m bench.pipeline`` (``--help`` for its options)."""

import sys

from .run import main

if __name__ == "__main__":
    sys.exit(main())
