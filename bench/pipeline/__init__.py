"""The pipeline benchmark: the four services as processes against raw aio-pika doing the same hops.

``python -m bench.pipeline`` runs it (``run``: feeds, rounds, report). ``sides`` runs one side over one feed,
``raw`` is the raw aio-pika reference (one process per role, ``python -m bench.pipeline.raw <role>``), and
``probe`` observes both from outside: arrivals, counters, CPU time.
"""
