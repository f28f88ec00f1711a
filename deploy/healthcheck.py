"""Exit 0 when the service on this container answers ``/health`` with 200 (connected and ready), else 1.

    python /app/healthcheck.py PORT

The container's HEALTHCHECK and compose's ``healthcheck`` run it; standard library only.
"""

import sys
import urllib.request


def healthy(port: int, timeout: float = 3.0) -> bool:
    """Return whether ``http://127.0.0.1:PORT/health`` answers 200."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=timeout) as response:
            return response.status == 200
    except OSError:  # refused, timed out, or an HTTP error status such as 503
        return False


if __name__ == "__main__":
    sys.exit(0 if healthy(int(sys.argv[1])) else 1)
