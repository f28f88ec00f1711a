"""Run the data service: ``python -m services.data``."""

import asyncio
import sys

from shared.runtime.service import run_service

from .bootstrap import bootstrap
from .settings import DataSettings

if __name__ == "__main__":
    sys.exit(asyncio.run(run_service(bootstrap, DataSettings())))
