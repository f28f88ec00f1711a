"""Run the execution service: ``python -m services.execution``."""

import sys

from shared.runtime.service import main

from .bootstrap import bootstrap
from .settings import ExecutionSettings

if __name__ == "__main__":
    sys.exit(main(bootstrap, ExecutionSettings))
