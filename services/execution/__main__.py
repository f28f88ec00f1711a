"""Run the execution service: ``python -m services.execution``."""

import asyncio
import sys

from shared.runtime.service import run_service

from .bootstrap import bootstrap
from .settings import ExecutionSettings

if __name__ == "__main__":
    sys.exit(asyncio.run(run_service(bootstrap, ExecutionSettings())))
