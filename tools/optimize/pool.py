"""Run a study's trials with N worker processes (spawned), each parsing the data once for all its trials."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, Future, ProcessPoolExecutor, wait

from .evaluate import Evaluator
from .study import HEARTBEAT_S, work

Tick = Callable[[], None]
"""Called now and then while trials run (to redraw a progress bar)."""
POLL_S = 0.5

# One per worker process, kept across the studies it serves (walk-forward windows): the data is parsed once.
_evaluator: Evaluator | None = None


def _pooled_work(url: str, name: str, worker: int, heartbeat_s: int) -> int:
    global _evaluator
    _evaluator = _evaluator or Evaluator()
    return work(url, name, worker, heartbeat_s, _evaluator)


class TrialPool:
    """Worker processes for one or several studies in turn; ``jobs`` 1 runs trials in this process."""

    def __init__(self, jobs: int, heartbeat_s: int = HEARTBEAT_S, evaluator: Evaluator | None = None) -> None:
        self.jobs, self.heartbeat_s = max(jobs, 1), heartbeat_s
        self.evaluator = evaluator or Evaluator()
        self._executor: ProcessPoolExecutor | None = None

    def __enter__(self) -> TrialPool:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._executor is not None:
            self._executor.shutdown(cancel_futures=True)

    def run(self, url: str, name: str, tick: Tick | None = None) -> int:
        """Run study ``name`` at ``url`` to its end; return the trials run."""
        if self.jobs == 1:
            return work(url, name, 0, self.heartbeat_s, self.evaluator, on_trial=tick)
        if self._executor is None:
            self._executor = ProcessPoolExecutor(self.jobs, mp_context=multiprocessing.get_context("spawn"))
        futures: list[Future[int]] = [self._executor.submit(_pooled_work, url, name, worker, self.heartbeat_s)
                                      for worker in range(self.jobs)]
        while True:
            done, pending = wait(futures, timeout=POLL_S, return_when=FIRST_EXCEPTION)
            if tick:
                tick()
            for future in done:
                future.result()  # a worker's error ends the run, with its message
            if not pending:
                return sum(future.result() for future in futures)
