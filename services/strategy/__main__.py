"""Run the strategy service: ``python -m services.strategy``."""

import sys

from shared.runtime.service import main

from .bootstrap import bootstrap
from .settings import StrategySettings

if __name__ == "__main__":
    sys.exit(main(bootstrap, StrategySettings))
