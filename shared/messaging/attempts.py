"""The attempts at messages that began and never settled, kept on disk: what a crash leaves behind.

A message that crashes its service every time is redelivered to each restarted process. The broker's count of
redeliveries cannot say whether a redelivery followed a crash in the handler or an innocent return (a consumer
killed with messages prefetched, a broker restart), and RabbitMQ 4.3 stopped counting some returns at all. So a
consumer counts for itself: before it handles a message that was delivered before (or that it has a record of),
it records the attempt here, and it erases the record once the message is settled (acked or dead-lettered). A
record still present at the next delivery is an attempt the service did not survive. The first delivery of a
message is not recorded (a disk write per message would cost too much), so a redelivered message with no record
counts that first delivery as one attempt made. Writing is rare (only for redeliveries) and durable (written to a
temporary file, flushed to disk, renamed over the old one).
"""

from __future__ import annotations

import json
import os
from collections import OrderedDict
from pathlib import Path

MAX_RECORDS = 10_000
"""Records kept at most; the oldest go first (a message whose redelivery never came: its queue was purged)."""


class AttemptLog:
    """Unsettled attempts by message key, in a JSON file at ``path`` (``None``: in memory, for one process only)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._records: OrderedDict[str, int] = OrderedDict()
        if path is not None and path.exists():
            self._records.update(json.loads(path.read_text() or "{}"))

    def unsettled(self, key: str) -> int:
        """Return how many attempts at ``key`` began and never settled."""
        return self._records.get(key, 0)

    def begin(self, key: str, attempt: int) -> None:
        """Record that attempt number ``attempt`` at ``key`` begins (the earlier ones never settled)."""
        self._records.pop(key, None)
        self._records[key] = attempt
        while len(self._records) > MAX_RECORDS:
            self._records.popitem(last=False)
        self._save()

    def settle(self, key: str) -> None:
        """Erase the record of ``key``: the message was acked or dead-lettered."""
        if self._records.pop(key, None) is not None:
            self._save()

    def __contains__(self, key: str) -> bool:
        return key in self._records

    def _save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        with temporary.open("w") as file:
            json.dump(self._records, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, self.path)
