"""Run the strategy service: ``python -m services.strategy``."""

import asyncio
import sys

from shared.runtime.service import run_service

from .bootstrap import bootstrap
from .settings import StrategySettings

if __name__ == "__main__":
    sys.exit(asyncio.run(run_service(bootstrap, StrategySettings())))
