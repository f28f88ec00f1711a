"""Run the portfolio service: ``python -m services.portfolio``."""

import sys

from shared.runtime.service import main

from .bootstrap import bootstrap
from .settings import PortfolioSettings

if __name__ == "__main__":
    sys.exit(main(bootstrap, PortfolioSettings))
