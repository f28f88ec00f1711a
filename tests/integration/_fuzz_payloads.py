"""Bad payloads for the fuzz test, built with hypothesis: what a broken or hostile publisher puts on a queue.

Each strategy returns a ``Payload`` saying what the consumer must make of it: the dead letter's ``x-error``
contains every string in ``reasons``. A case is invalid by construction, never by asking the contracts whether it
is, so a contract that accepts what it should not shows up as a payload that was not dead-lettered.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

from hypothesis import strategies as st

from shared.contracts import (
    MESSAGE_TYPES,
    BalanceDifference,
    BalancesDiffered,
    BalancesObserved,
    BalanceView,
    BarClosed,
    BarHistoryProvided,
    BarView,
    BookLevel,
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
    WorkingOrderView,
    encode,
)
from shared.messaging.dispatch import MAX_MESSAGE_BYTES
from tests.factories import T0, bar, fill, signal, submit_order, tick

CASES = ("random_bytes", "truncated_json", "wrong_field_type", "non_finite_number", "naive_datetime",
         "unknown_type", "other_type", "oversize")
NON_FINITE = ("NaN", "nan", "-NaN", "sNaN", "Infinity", "+Infinity", "-Infinity", "inf", "-inf", "Inf")


@dataclass(frozen=True, repr=False)
class Payload:
    """One raw delivery: its body, its AMQP ``type`` property, and what its dead letter must say."""

    case: str
    body: bytes
    type_name: str | None
    reasons: tuple[str, ...]
    error_type: str | None = "InvalidMessage"
    """The dead letter's ``x-error-type`` (``None``: not checked; a message of the wrong type has no error)."""

    def __repr__(self) -> str:  # hypothesis prints failing examples: never a megabyte of body
        body = self.body if len(self.body) <= 160 else self.body[:120] + b"...(%d bytes)" % len(self.body)
        return f"{self.case}(type={self.type_name!r}, body={body!r})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # what hypothesis's printer calls
        printer.text(repr(self))


ENVELOPE: dict[str, Any] = dict(ts_event=T0, ts_init=T0, source="fuzz")

SAMPLES: dict[type[Message], Callable[[], Message]] = {
    BarClosed: lambda: bar(source="fuzz"),
    TradeTicked: lambda: tick(source="fuzz"),
    QuoteTicked: lambda: QuoteTicked(**ENVELOPE, symbol="ORCL", bid=Decimal("10.00"), ask=Decimal("10.01"),
                                     bid_size=Decimal(5), ask_size=Decimal(7)),
    OrderBookUpdated: lambda: OrderBookUpdated(**ENVELOPE, symbol="ORCL", is_snapshot=True,
                                               bids=(BookLevel(price=Decimal("10.00"), size=Decimal(5)),),
                                               asks=(BookLevel(price=Decimal("10.01"), size=Decimal(7)),)),
    RequestBarHistory: lambda: RequestBarHistory(**ENVELOPE, symbol="ORCL", timeframe="1d", count=10,
                                                 requester="fuzz", before=T0),
    BarHistoryProvided: lambda: BarHistoryProvided(**ENVELOPE, symbol="ORCL", timeframe="1d", requester="fuzz",
                                                   bars=(BarView(ts=T0, open=Decimal(10), high=Decimal(11),
                                                                 low=Decimal(9), close=Decimal(10),
                                                                 volume=Decimal(100)),)),
    SignalGenerated: lambda: signal(source="fuzz", strength=Decimal("0.5"), reference_price=Decimal("10.25")),
    SubmitOrder: lambda: submit_order(source="fuzz", client_order_id="fuzz-order"),
    CancelOrder: lambda: CancelOrder(**ENVELOPE, client_order_id="fuzz-order", symbol="ORCL", reason="fuzz"),
    OrderAccepted: lambda: OrderAccepted(**ENVELOPE, client_order_id="fuzz-order", venue_order_id="v-1",
                                         strategy_id="sma_cross", symbol="ORCL", side="buy", quantity=Decimal(100),
                                         order_type="market", time_in_force="GTC"),
    OrderRejected: lambda: OrderRejected(**ENVELOPE, client_order_id="fuzz-order", strategy_id="sma_cross",
                                         symbol="ORCL", reason="fuzz"),
    OrderCanceled: lambda: OrderCanceled(**ENVELOPE, client_order_id="fuzz-order", strategy_id="sma_cross",
                                         symbol="ORCL", filled_quantity=Decimal(0)),
    OrderExpired: lambda: OrderExpired(**ENVELOPE, client_order_id="fuzz-order", strategy_id="sma_cross",
                                       symbol="ORCL", filled_quantity=Decimal(0)),
    OrderFilled: lambda: fill(source="fuzz", fill_id="fuzz-fill", client_order_id="fuzz-order"),
    PositionChanged: lambda: PositionChanged(**ENVELOPE, symbol="ORCL", strategy_id="sma_cross",
                                             quantity=Decimal(100), average_price=Decimal("10.01"),
                                             realized_pnl=Decimal(0)),
    PortfolioSnapshot: lambda: PortfolioSnapshot(**ENVELOPE, cash=Decimal(100000), equity=Decimal(100000),
                                                 peak_equity=Decimal(100000), drawdown=Decimal(0),
                                                 gross_exposure=Decimal(0), net_exposure=Decimal(0),
                                                 realized_pnl=Decimal(0), unrealized_pnl=Decimal(0)),
    TradingHalted: lambda: TradingHalted(**ENVELOPE, reason="fuzz", drawdown=Decimal("0.2")),
    TradingResumed: lambda: TradingResumed(**ENVELOPE, reason="fuzz"),
    WorkerHeartbeatSent: lambda: WorkerHeartbeatSent(**ENVELOPE, group="strategy", worker="fuzz", sequence=3,
                                                     partitions=(1, 2)),
    HaltTrading: lambda: HaltTrading(**ENVELOPE, reason="fuzz"),
    ResumeTrading: lambda: ResumeTrading(**ENVELOPE, reason="fuzz"),
    FlattenPositions: lambda: FlattenPositions(**ENVELOPE, symbol="ORCL", reason="fuzz"),
    RequestStatus: lambda: RequestStatus(**ENVELOPE),
    ExecutionStatusReported: lambda: ExecutionStatusReported(
        **ENVELOPE, venue="paper", mode="replay", trading_halted=False,
        working_orders=(WorkingOrderView(client_order_id="fuzz-order", strategy_id="sma_cross", symbol="ORCL",
                                         side="buy", order_type="limit", quantity=Decimal(5),
                                         filled_quantity=Decimal(0), limit_price=Decimal(9), status="accepted"),)),
    BalancesObserved: lambda: BalancesObserved(**ENVELOPE, venue="binance", last_fill_id="fuzz-fill", balances=(
        BalanceView(asset="USDT", free=Decimal(90), used=Decimal(10), total=Decimal(100)),)),
    BalancesDiffered: lambda: BalancesDiffered(**ENVELOPE, venue="binance", differences=(
        BalanceDifference(asset="BTC", expected=Decimal(1), observed=Decimal("0.999"),
                          difference=Decimal("-0.001")),)),
}
assert set(SAMPLES) == set(MESSAGE_TYPES.values()), "a message type has no sample"


def name_of(cls: type[Message]) -> str:
    return cls.model_fields["type"].default


def sample_json(cls: type[Message]) -> dict[str, Any]:
    """Return a valid message of ``cls`` as a JSON object (every field present)."""
    return json.loads(encode(SAMPLES[cls]()))


# -- what JSON each field may hold -------------------------------------------------------------------------------
# Deliberately generous (pydantic's lax mode takes a number for a datetime, a bool for an int...): a value of a
# kind outside this set is wrong for the field whatever the validator's leniency.

def _kinds(annotation: Any) -> set[str]:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _kinds(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return set().union(*(_kinds(arg) for arg in typing.get_args(annotation)))
    if origin is typing.Literal:
        return set().union(*(_kinds(type(arg)) for arg in typing.get_args(annotation)))
    if origin is tuple:
        return {"array"}
    if annotation is type(None):
        return {"null"}
    if annotation is bool:
        return {"bool", "number", "string"}
    if annotation is int:
        return {"number", "string", "bool"}
    if annotation is Decimal:
        return {"number", "string"}
    if isinstance(annotation, type) and (issubclass(annotation, datetime) or annotation.__name__ == "AwareDatetime"):
        return {"string", "number"}
    if isinstance(annotation, type) and issubclass(annotation, (str, UUID, Enum)):
        return {"string"}
    raise TypeError(f"no JSON kinds known for {annotation!r}")


def accepted_kinds(cls: type[Message]) -> dict[str, set[str]]:
    """Return, for every field of ``cls``, the JSON kinds it might accept."""
    return {name: _kinds(field.annotation) for name, field in cls.model_fields.items()}


def _is_numeric(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _is_numeric(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return any(_is_numeric(arg) for arg in typing.get_args(annotation))
    return annotation is Decimal or annotation is int


def numeric_fields(cls: type[Message]) -> list[str]:
    """Return the fields of ``cls`` that hold a number (decimals and integers; ``schema_version`` aside)."""
    return [name for name, field in cls.model_fields.items() if _is_numeric(field.annotation)]


def datetime_fields(cls: type[Message]) -> list[str]:
    """Return the fields of ``cls`` that hold an instant."""
    return [name for name, field in cls.model_fields.items() if "AwareDatetime" in repr(field.annotation)]


_scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.text(max_size=8))
JSON_BY_KIND: dict[str, st.SearchStrategy[Any]] = {
    "null": st.none(),
    "bool": st.booleans(),
    "number": st.one_of(st.integers(-10**12, 10**12), st.floats(allow_nan=False, allow_infinity=False)),
    "string": st.text(max_size=12),
    "array": st.lists(_scalars, max_size=3),
    "object": st.dictionaries(st.text(max_size=5), _scalars, max_size=3),
}


# -- the cases ---------------------------------------------------------------------------------------------------

def _invalid(cls: type[Message]) -> tuple[str, ...]:
    return (f"{name_of(cls)} failed validation",)


@st.composite
def random_bytes(draw: st.DrawFn, handled: tuple[type[Message], ...]) -> Payload:
    # bytes, or JSON that is no object at all (null, a number, a string, an array)
    body = draw(st.binary(max_size=64) | st.one_of(*(JSON_BY_KIND[kind] for kind in ("null", "bool", "number",
                                                                                     "string", "array")))
                .map(lambda value: json.dumps(value).encode()))
    cls = draw(st.none() | st.sampled_from(handled))
    if cls is None:
        return Payload("random_bytes", body, draw(st.sampled_from([None, ""])), ("no 'type' property",))
    return Payload("random_bytes", body, name_of(cls), _invalid(cls))


@st.composite
def truncated_json(draw: st.DrawFn, handled: tuple[type[Message], ...]) -> Payload:
    cls = draw(st.sampled_from(handled))
    whole = encode(SAMPLES[cls]())
    cut = draw(st.integers(0, len(whole) - 1))
    return Payload("truncated_json", whole[:cut], name_of(cls), _invalid(cls))


@st.composite
def wrong_field_type(draw: st.DrawFn, handled: tuple[type[Message], ...]) -> Payload:
    """A field holding JSON of a kind it cannot take; now and then a required field left out, or one too many."""
    cls = draw(st.sampled_from(handled))
    fields = sample_json(cls)
    shape = draw(st.sampled_from(["wrong_kind", "wrong_kind", "missing", "extra"]))
    if shape == "missing":
        field = draw(st.sampled_from(sorted(name for name, info in cls.model_fields.items() if info.is_required())))
        del fields[field]
    elif shape == "extra":
        field = draw(st.text(st.characters(codec="ascii", categories=["L"]), min_size=1, max_size=10)
                     .filter(lambda name: name not in fields))
        fields[field] = draw(_scalars)
    else:
        field, accepted = draw(st.sampled_from(sorted(accepted_kinds(cls).items())))
        wrong = draw(st.sampled_from(sorted(set(JSON_BY_KIND) - accepted)))
        fields[field] = draw(JSON_BY_KIND[wrong])
    return Payload("wrong_field_type", json.dumps(fields).encode(), name_of(cls), (*_invalid(cls), field))


@st.composite
def non_finite_number(draw: st.DrawFn, handled: tuple[type[Message], ...]) -> Payload:
    # a queue whose messages hold no number (status requests) gets it in the one numeric field every message has
    cls = draw(st.sampled_from([t for t in handled if numeric_fields(t)] or list(handled)))
    field = draw(st.sampled_from(numeric_fields(cls) or ["schema_version"]))
    fields = sample_json(cls)
    # a string, as decimals travel; or a bare token, which Python's json writes and strict JSON forbids
    fields[field] = draw(st.sampled_from(NON_FINITE) | st.sampled_from([float("nan"), float("inf"), float("-inf")]))
    return Payload("non_finite_number", json.dumps(fields).encode(), name_of(cls), (*_invalid(cls), field))


@st.composite
def naive_datetime(draw: st.DrawFn, handled: tuple[type[Message], ...]) -> Payload:
    cls = draw(st.sampled_from(handled))
    field = draw(st.sampled_from(datetime_fields(cls)))
    moment = draw(st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2100, 1, 1)))
    separator = draw(st.sampled_from(["T", " "]))
    fields = sample_json(cls)
    fields[field] = moment.isoformat(separator)
    return Payload("naive_datetime", json.dumps(fields).encode(), name_of(cls), (*_invalid(cls), field))


UNKNOWN_TYPE_NAMES = st.one_of(
    st.text(st.characters(codec="utf-8"), min_size=1, max_size=40),
    st.sampled_from(sorted(MESSAGE_TYPES)).map(str.lower),
    st.sampled_from(sorted(MESSAGE_TYPES)).map(lambda name: f"{name}V2"),
    st.sampled_from(sorted(MESSAGE_TYPES)).map(lambda name: f" {name}"),
).filter(lambda name: name not in MESSAGE_TYPES and len(name.encode()) <= 255)


@st.composite
def unknown_type(draw: st.DrawFn, handled: tuple[type[Message], ...]) -> Payload:
    cls = draw(st.sampled_from(handled))
    unknown = draw(UNKNOWN_TYPE_NAMES)
    fields = sample_json(cls)
    if draw(st.booleans()):
        fields["type"] = unknown  # the body agrees with the property: still nothing is called that
    return Payload("unknown_type", json.dumps(fields).encode(), unknown, ("unknown message type",))


@st.composite
def other_type(draw: st.DrawFn, handled: tuple[type[Message], ...]) -> Payload:
    """A valid message the queue has no handler for; or one labelled (``type`` property) as one it handles."""
    cls = draw(st.sampled_from([t for t in SAMPLES if t not in handled]))
    body = encode(SAMPLES[cls]())
    if draw(st.booleans()):
        return Payload("other_type", body, name_of(cls), (f"no handler for {name_of(cls)}",), error_type=None)
    label = draw(st.sampled_from(handled))
    return Payload("other_type", body, name_of(label), _invalid(label))


@st.composite
def oversize(draw: st.DrawFn, handled: tuple[type[Message], ...]) -> Payload:
    cls = draw(st.sampled_from(handled))
    whole = encode(SAMPLES[cls]())
    # a valid message but for its trailing whitespace: only the size limit may refuse it
    padding = MAX_MESSAGE_BYTES - len(whole) + draw(st.integers(1, 4096))
    return Payload("oversize", whole + b" " * padding, name_of(cls), (f"{MAX_MESSAGE_BYTES}-byte limit",))


STRATEGIES: dict[str, Callable[[tuple[type[Message], ...]], st.SearchStrategy[Payload]]] = {
    "random_bytes": random_bytes, "truncated_json": truncated_json, "wrong_field_type": wrong_field_type,
    "non_finite_number": non_finite_number, "naive_datetime": naive_datetime, "unknown_type": unknown_type,
    "other_type": other_type, "oversize": oversize,
}
assert tuple(STRATEGIES) == CASES


def bad_payloads(handled: tuple[type[Message], ...], extra: int = 2) -> st.SearchStrategy[list[Payload]]:
    """Return lists of bad payloads for a queue that handles ``handled``: every case once, then up to ``extra``
    more of the small ones."""
    every_case = st.tuples(*(STRATEGIES[case](handled) for case in CASES))
    small = st.one_of(*(STRATEGIES[case](handled) for case in CASES if case != "oversize"))
    return st.builds(lambda cases, more: [*cases, *more], every_case, st.lists(small, max_size=extra))


