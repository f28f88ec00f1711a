"""The envelope every tradebus message carries, and the value types messages are built from.

Prices, quantities and money are ``Decimal`` (serialised as JSON strings, so nothing is lost on the wire);
timestamps are timezone-aware and normalised to UTC. NaN, infinities, negative quantities and naive datetimes
fail validation.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Self
from uuid import UUID, uuid4

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field


def _to_utc(value: datetime) -> datetime:
    return value if value.tzinfo is timezone.utc else value.astimezone(timezone.utc)


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
"""A timezone-aware instant, normalised to UTC; naive datetimes are rejected."""

Price = Annotated[Decimal, Field(gt=0, allow_inf_nan=False)]
"""A strictly positive, finite price."""

Quantity = Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]
"""A non-negative, finite quantity (sizes, volumes)."""

PositiveQuantity = Annotated[Decimal, Field(gt=0, allow_inf_nan=False)]
"""A strictly positive, finite quantity (order and fill sizes)."""

Money = Annotated[Decimal, Field(allow_inf_nan=False)]
"""A finite signed amount of money."""

SignedQuantity = Annotated[Decimal, Field(allow_inf_nan=False)]
"""A finite signed position size: negative is short."""

Fraction = Annotated[Decimal, Field(ge=-1, le=1, allow_inf_nan=False)]
"""A finite value in [-1, 1] (signal strength, target weight)."""

Symbol = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:/\-^=]+$")]
"""An instrument identifier such as ``ORCL``, ``EUR/USD`` or ``BRK.B``."""


class Message(BaseModel):
    """Base of every message: an immutable envelope with identity, time and lineage.

    ``correlation_id`` ties a whole chain together (market data to fill); ``causation_id`` names the message
    that directly caused this one. ``ts_event`` is when the fact happened, ``ts_init`` when this message was made.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", use_enum_values=False)

    KIND: ClassVar[str] = "message"

    message_id: UUID = Field(default_factory=uuid4)
    type: str
    schema_version: int
    ts_event: UtcDatetime
    ts_init: UtcDatetime
    correlation_id: UUID = Field(default_factory=lambda data: data["message_id"])
    causation_id: UUID | None = None
    source: str = Field(min_length=1, max_length=128)

    @classmethod
    def caused_by(cls, cause: Message, **fields: Any) -> Self:
        """Build a message caused by ``cause``: same correlation id, causation id set to the cause's id."""
        return cls(correlation_id=cause.correlation_id, causation_id=cause.message_id, **fields)

    def routing_symbol(self) -> str | None:
        """Return the instrument this message is about, used in routing keys; ``None`` when it has none."""
        return self.__dict__.get("symbol")  # getattr on a model without the field costs an exception


class Command(Message):
    """An imperative: something a service is asked to do (it may refuse, with an event saying why)."""

    KIND: ClassVar[str] = "command"


class Event(Message):
    """A past-tense fact: something that happened and cannot be refused."""

    KIND: ClassVar[str] = "event"
