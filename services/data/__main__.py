"""Run the data service: ``python -m services.data``."""

import sys

from shared.runtime.service import main

from .bootstrap import bootstrap
from .settings import DataSettings

if __name__ == "__main__":
    sys.exit(main(bootstrap, DataSettings))
