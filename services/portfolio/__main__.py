"""Run the portfolio service: ``python -m services.portfolio``."""

import asyncio
import sys

from shared.runtime.service import run_service

from .bootstrap import bootstrap
from .settings import PortfolioSettings

if __name__ == "__main__":
    sys.exit(asyncio.run(run_service(bootstrap, PortfolioSettings())))
