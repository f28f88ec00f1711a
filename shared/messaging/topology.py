"""Every RabbitMQ name tradebus uses, built by rules in this one module.

Exchanges (all durable)::

    {ns}.market       topic    market events      routing key  market.<bar|trade|quote|book>.<symbol>
    {ns}.signal       topic    strategy signals   routing key  signal.generated.<symbol>
    {ns}.command      topic    commands           routing key  command.<submit_order|cancel_order|request_history>.<sym>
    {ns}.order        topic    order events       routing key  order.<accepted|rejected|...|filled>.<symbol>
    {ns}.portfolio    topic    portfolio events   routing key  portfolio.<kind>.<symbol or ~>
    {ns}.control      topic    control plane      routing key  control.heartbeat.<group> | control.history.<requester>
    {ns}.market.partitioned  headers  bound to {ns}.market with '#'; routes on the ``tradebus-partition`` header
    {ns}.dlx          direct   dead letters, routing key = the name of the queue the message died in

A symbol's dots are escaped (``BRK.B`` -> ``BRK%2EB``) so every routing key has exactly three words and
consumers bind by type (``market.bar.*``) or by symbol (``market.*.ORCL``). Messages without a symbol use ``~``.

Queues are durable **quorum** queues, each with a dead-letter queue ``<queue>.dlq``. The services count the
attempts at a failing message themselves and dead-letter it with the reason (``x-error``) after
``delivery_limit`` of them; the broker's own ``x-delivery-limit`` is only a backstop set far above that
(``REDELIVERY_BACKSTOP``), because the broker also counts innocent returns (a consumer killed with messages
prefetched, a broker restart) and, from RabbitMQ 4.3 on, counts differently. Delivery modes:

- *shared work queue* ``{ns}.<service>.<purpose>``: one per consuming service, every replica of the service
  competes on it (portfolio, execution: one replica each, ordered).
- *partition queue* ``{ns}.strategy.market.p<NN>``: single active consumer; market events are spread over
  ``MARKET_PARTITIONS`` of them by a stable hash of the symbol (the publisher sets ``tradebus-partition``), so a
  symbol's events stay in order on one queue and strategy workers can own disjoint sets of partitions.
- *one per instance* ``{ns}.<service>.<purpose>.<instance>``: exclusive, auto-deleted (tools such as ``tail``,
  and each strategy worker's inbox: its group's heartbeats, the history replies addressed to it, and fills).
  Their dead letters go to one durable queue per purpose, ``{ns}.<service>.<purpose>.dlq``, which outlives the
  instances. ``PER_INSTANCE_TYPES`` only ever go to such queues; a reply whose requester is gone is unroutable.
- *journal* ``{ns}.journal``: the events no service consumes (order acknowledgements, position changes), capped
  at ``JOURNAL_LENGTH`` with the oldest dropped: every event is routable, so ``mandatory`` publishing can treat
  an unroutable publish as the error it is, and the last events stay inspectable.

``SUITE`` below says which service consumes which message types from which queue, and in which mode. Every
service declares the whole suite's queues at start-up, so a message is never published before its consumer's
queue exists, whatever order the services start in.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any, Literal

from shared.contracts import (
    BalancesDiffered,
    BalancesObserved,
    BarClosed,
    BarHistoryProvided,
    CancelOrder,
    ExecutionStatusReported,
    FlattenPositions,
    HaltTrading,
    Message,
    OrderAccepted,
    OrderBookUpdated,
    OrderCanceled,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    PortfolioSnapshot,
    PositionChanged,
    QuoteTicked,
    RequestBarHistory,
    RequestStatus,
    ResumeTrading,
    SignalGenerated,
    SubmitOrder,
    TradeTicked,
    TradingHalted,
    TradingResumed,
    WorkerHeartbeatSent,
)

DEFAULT_NAMESPACE = "tradebus"
DEFAULT_DELIVERY_LIMIT = 5
REDELIVERY_BACKSTOP = 100
"""The broker's ``x-delivery-limit``: it dead-letters a message only after this many returns, for the one case the
services cannot count, a message that kills its consumer outright (no exception to catch) where no attempt log
survives the crash."""
MARKET_PARTITIONS = 16
PARTITION_HEADER = "tradebus-partition"  # headers exchanges ignore x- keys in bindings
NO_SYMBOL = "~"
JOURNAL_LENGTH = 100_000

FAMILIES = ("market", "signal", "command", "order", "portfolio", "control")

ROUTES: dict[type[Message], tuple[str, str]] = {
    BarClosed: ("market", "bar"),
    TradeTicked: ("market", "trade"),
    QuoteTicked: ("market", "quote"),
    OrderBookUpdated: ("market", "book"),
    BarHistoryProvided: ("control", "history"),
    SignalGenerated: ("signal", "generated"),
    SubmitOrder: ("command", "submit_order"),
    CancelOrder: ("command", "cancel_order"),
    RequestBarHistory: ("command", "request_history"),
    OrderAccepted: ("order", "accepted"),
    OrderRejected: ("order", "rejected"),
    OrderCanceled: ("order", "canceled"),
    OrderExpired: ("order", "expired"),
    OrderFilled: ("order", "filled"),
    PositionChanged: ("portfolio", "position_changed"),
    PortfolioSnapshot: ("portfolio", "snapshot"),
    TradingHalted: ("portfolio", "halted"),
    TradingResumed: ("portfolio", "resumed"),
    WorkerHeartbeatSent: ("control", "heartbeat"),
    HaltTrading: ("command", "halt_trading"),
    ResumeTrading: ("command", "resume_trading"),
    FlattenPositions: ("command", "flatten_positions"),
    RequestStatus: ("command", "request_status"),
    ExecutionStatusReported: ("order", "status_reported"),
    BalancesObserved: ("order", "balances_observed"),
    BalancesDiffered: ("portfolio", "balances_differed"),
}
"""Message type -> (family, kind): the family picks the exchange, the kind the routing key's second word."""

PARTITIONED_TYPES = tuple(t for t, (family, _) in ROUTES.items() if family == "market")
"""What the strategy market partitions receive: every market event (bars, trades, quotes, books)."""

PER_INSTANCE_TYPES = (WorkerHeartbeatSent, BarHistoryProvided)
"""What only per-instance queues receive: heartbeats (every worker of the group) and history replies (the
requester). They stay out of the journal, so a reply nobody waits for any more is unroutable, not journaled."""

QueueMode = Literal["shared", "partitioned", "per_instance"]


@dataclass(frozen=True, slots=True)
class Consumes:
    """What one of a service's queues receives, and how the queue is shared (see the module docstring)."""

    types: tuple[type[Message], ...]
    mode: QueueMode = "shared"


SUITE: dict[tuple[str, str], Consumes] = {
    ("data", "requests"): Consumes((RequestBarHistory,)),
    ("strategy", "market"): Consumes(PARTITIONED_TYPES, "partitioned"),
    ("strategy", "inbox"): Consumes((OrderFilled, *PER_INSTANCE_TYPES), "per_instance"),
    ("execution", "market"): Consumes((BarClosed, TradeTicked, QuoteTicked)),
    ("execution", "signals"): Consumes((SignalGenerated,)),
    ("execution", "commands"): Consumes((SubmitOrder, CancelOrder)),
    ("execution", "portfolio"): Consumes((PortfolioSnapshot, TradingHalted, TradingResumed)),
    ("execution", "control"): Consumes((RequestStatus,)),
    # balances come on the orders queue, behind the fills execution announced before reading them
    ("portfolio", "orders"): Consumes((OrderFilled, OrderRejected, OrderCanceled, OrderExpired, BalancesObserved)),
    ("portfolio", "market"): Consumes((BarClosed,)),
    ("portfolio", "control"): Consumes((HaltTrading, ResumeTrading, FlattenPositions, RequestStatus)),
}
"""(service, purpose) -> what the queue receives: every consuming queue of the suite, by the names the services'
subscription tables use."""

PUBLISHERS: dict[str, tuple[type[Message], ...]] = {
    "data": (BarClosed, TradeTicked, QuoteTicked, OrderBookUpdated, BarHistoryProvided),
    "strategy": (SignalGenerated, RequestBarHistory, WorkerHeartbeatSent),
    "execution": (OrderAccepted, OrderRejected, OrderCanceled, OrderExpired, OrderFilled, ExecutionStatusReported,
                  BalancesObserved),
    "portfolio": (PositionChanged, PortfolioSnapshot, TradingHalted, TradingResumed, SubmitOrder, BalancesDiffered),
}
"""service -> the message types it publishes (operators' commands are in ``OPERATOR_COMMANDS``)."""

OPERATOR_COMMANDS: tuple[type[Message], ...] = (CancelOrder, HaltTrading, ResumeTrading, FlattenPositions,
                                               RequestStatus)
"""What only an operator publishes, through the tools (``tradebus halt``, ``resume``, ``flatten``, ``status``)."""

ROUTES_BY_NAME: dict[str, tuple[str, str]] = {cls.model_fields["type"].default: route for cls, route in ROUTES.items()}


def symbol_token(symbol: str | None) -> str:
    """Return ``symbol`` as one routing-key word (dots escaped), or ``~`` when there is none."""
    return NO_SYMBOL if symbol is None else symbol.replace(".", "%2E")


def partition_of(symbol: str, partitions: int = MARKET_PARTITIONS) -> int:
    """Return the market partition of ``symbol``: a stable hash, identical in every process and version."""
    return zlib.crc32(symbol.encode()) % partitions


@dataclass(frozen=True, slots=True)
class Binding:
    """Bind a queue to ``exchange`` with a topic ``pattern``, or with ``headers`` on a headers exchange."""

    exchange: str
    pattern: str = "#"
    headers: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class QueueSpec:
    """A queue, its bindings and its delivery mode; ``arguments()`` gives the exact declare arguments.

    ``delivery_limit`` is how many attempts the consuming service makes at a failing message before it
    dead-letters it; ``dead_letter_key`` routes its dead letters on the DLX (the queue's own name, or for a
    per-instance queue the name its purpose shares with every instance, so their dead letters outlive them).
    """

    name: str
    bindings: tuple[Binding, ...]
    dead_letter_exchange: str
    mode: Literal["shared", "single_active", "per_instance", "journal"] = "shared"
    delivery_limit: int = DEFAULT_DELIVERY_LIMIT
    max_length: int | None = None
    dead_letter_key: str = ""

    def __post_init__(self) -> None:
        if not self.dead_letter_key:
            object.__setattr__(self, "dead_letter_key", self.name)

    @property
    def dlq(self) -> str | None:
        """Return the name of this queue's dead-letter queue (``None`` for the journal, which has none)."""
        return None if self.mode == "journal" else dead_letter_queue_name(self.dead_letter_key)

    @property
    def durable(self) -> bool:
        return self.mode != "per_instance"

    def arguments(self) -> dict[str, Any]:
        """Return the ``x-`` arguments to declare this queue with (valid on RabbitMQ 3.10 through 4.x)."""
        if self.mode == "journal":
            # a capped record, not work: the oldest entries drop off, nothing is dead-lettered or redelivered
            return {"x-queue-type": "quorum", "x-max-length": self.max_length or JOURNAL_LENGTH,
                    "x-overflow": "drop-head"}
        args: dict[str, Any] = {
            "x-dead-letter-exchange": self.dead_letter_exchange,
            "x-dead-letter-routing-key": self.dead_letter_key,
        }
        if self.mode == "per_instance":
            return args  # classic, exclusive: quorum queues cannot be exclusive
        args |= {
            "x-queue-type": "quorum",
            "x-delivery-limit": REDELIVERY_BACKSTOP,
            # at-least-once dead-lettering keeps a dead letter until the DLQ has confirmed it
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
        }
        if self.mode == "single_active":
            args["x-single-active-consumer"] = True
        return args


@dataclass(frozen=True, slots=True)
class DeadLetterQueue:
    """A dead-letter queue and the DLX routing key it is bound with (the name its dead letters are routed by)."""

    name: str
    key: str


def dead_letter_queue_name(queue: str) -> str:
    """Return the name of the dead-letter queue of ``queue``."""
    return f"{queue}.dlq"


DLQ_ARGUMENTS: dict[str, Any] = {"x-queue-type": "quorum"}


@dataclass(frozen=True)
class Topology:
    """Names for one namespace; tests give each run its own namespace so they never share a queue."""

    namespace: str = DEFAULT_NAMESPACE
    delivery_limit: int = DEFAULT_DELIVERY_LIMIT
    partitions: int = MARKET_PARTITIONS
    _exchanges: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_exchanges", {family: f"{self.namespace}.{family}" for family in FAMILIES})

    # -- exchanges ---------------------------------------------------------------------------------------------
    def exchange(self, family: str) -> str:
        """Return the topic exchange of an event family."""
        return self._exchanges[family]

    @property
    def partitioned_market_exchange(self) -> str:
        return f"{self.namespace}.market.partitioned"

    @property
    def dead_letter_exchange(self) -> str:
        return f"{self.namespace}.dlx"

    def topic_exchanges(self) -> tuple[str, ...]:
        """Return every topic exchange, one per family."""
        return tuple(self._exchanges.values())

    # -- routing -----------------------------------------------------------------------------------------------
    def address(self, message: Message) -> tuple[str, str]:
        """Return (exchange, routing key) for ``message``."""
        family, kind = ROUTES[type(message)]
        return self._exchanges[family], f"{family}.{kind}.{symbol_token(message.routing_symbol())}"

    def address_of(self, type_name: str, symbol: str | None) -> tuple[str, str]:
        """Return (exchange, routing key) for a message named ``type_name`` about ``symbol``."""
        family, kind = ROUTES_BY_NAME[type_name]
        return self._exchanges[family], f"{family}.{kind}.{symbol_token(symbol)}"

    def publish_headers(self, message: Message) -> dict[str, Any]:
        """Return the AMQP headers a published ``message`` carries: routing headers, schema version, causation."""
        headers = self.headers_for(message)
        headers["x-schema-version"] = message.schema_version
        if message.causation_id is not None:
            headers["x-causation-id"] = str(message.causation_id)
        return headers

    def pattern(self, message_type: type[Message], symbol: str | None = None) -> str:
        """Return the binding pattern for ``message_type``, for one symbol or (``None``) all of them."""
        family, kind = ROUTES[message_type]
        return f"{family}.{kind}.{'*' if symbol is None else symbol_token(symbol)}"

    def bind(self, *message_types: type[Message], symbol: str | None = None) -> tuple[Binding, ...]:
        """Return bindings that deliver ``message_types`` (optionally for one symbol only)."""
        return tuple(Binding(self.exchange(ROUTES[t][0]), self.pattern(t, symbol)) for t in message_types)

    def headers_for(self, message: Message) -> dict[str, Any]:
        """Return routing headers the publisher must set (the market partition of market events)."""
        symbol = message.routing_symbol()
        if ROUTES[type(message)][0] == "market" and symbol is not None:  # every market event has a symbol
            return {PARTITION_HEADER: partition_of(symbol, self.partitions)}
        return {}

    # -- queues ------------------------------------------------------------------------------------------------
    def service_queue(self, service: str, purpose: str, bindings: tuple[Binding, ...]) -> QueueSpec:
        """Return the shared work queue ``{ns}.<service>.<purpose>``."""
        return QueueSpec(self.purpose_name(service, purpose), bindings, self.dead_letter_exchange,
                         delivery_limit=self.delivery_limit)

    def partition_queue(self, partition: int) -> QueueSpec:
        """Return strategy market partition queue ``p<NN>``: single active consumer, so one worker at a time."""
        binding = Binding(self.partitioned_market_exchange, headers=(("x-match", "all"), (PARTITION_HEADER, partition)))
        return QueueSpec(f"{self.namespace}.strategy.market.p{partition:02d}", (binding,), self.dead_letter_exchange,
                         mode="single_active", delivery_limit=self.delivery_limit)

    def queue(self, service: str, purpose: str) -> QueueSpec:
        """Return the suite's shared work queue where ``service`` consumes for ``purpose`` (see ``SUITE``)."""
        consumes = SUITE[service, purpose]
        if consumes.mode != "shared":
            raise ValueError(f"{service}/{purpose} is a {consumes.mode} queue, not a shared one")
        return self.service_queue(service, purpose, self.bind(*consumes.types))

    def journal_queue(self) -> QueueSpec:
        """Return the capped journal of the events no queue of the suite consumes."""
        consumed = {t for consumes in SUITE.values() for t in consumes.types}
        unconsumed = [t for t in ROUTES if t not in consumed]
        return QueueSpec(f"{self.namespace}.journal", self.bind(*unconsumed), self.dead_letter_exchange,
                         mode="journal", max_length=JOURNAL_LENGTH)

    def suite_queues(self) -> tuple[QueueSpec, ...]:
        """Return every durable queue of the suite: the work queues, the market partitions and the journal."""
        shared = (self.queue(*key) for key, consumes in SUITE.items() if consumes.mode == "shared")
        return (*shared, *(self.partition_queue(p) for p in range(self.partitions)), self.journal_queue())

    def dead_letter_queues(self) -> tuple[DeadLetterQueue, ...]:
        """Return every dead-letter queue of the suite, the one per-instance queues of a purpose share included."""
        keys = [spec.dead_letter_key for spec in self.suite_queues() if spec.dlq is not None]
        keys += [self.purpose_name(service, purpose)
                 for (service, purpose), consumes in SUITE.items() if consumes.mode == "per_instance"]
        return tuple(DeadLetterQueue(dead_letter_queue_name(key), key) for key in keys)

    def durable_queue_names(self) -> tuple[str, ...]:
        """Return the name of every durable queue of the suite: work queues, partitions, journal, dead letters."""
        return (*(spec.name for spec in self.suite_queues()), *(dlq.name for dlq in self.dead_letter_queues()))

    def purpose_name(self, service: str, purpose: str) -> str:
        """Return ``{ns}.<service>.<purpose>``: a shared queue's name, the stem of per-instance queues' names."""
        return f"{self.namespace}.{service}.{purpose}"

    def instance_queue(self, service: str, purpose: str, instance: str, bindings: tuple[Binding, ...]) -> QueueSpec:
        """Return an exclusive, auto-deleted queue for one process; its dead letters go to its purpose's DLQ."""
        if instance == "dlq":
            raise ValueError("an instance cannot be named 'dlq': its queue would be its purpose's dead-letter queue")
        stem = self.purpose_name(service, purpose)
        return QueueSpec(f"{stem}.{instance}", bindings, self.dead_letter_exchange, mode="per_instance",
                         delivery_limit=self.delivery_limit, dead_letter_key=stem)
