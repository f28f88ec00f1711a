"""What is known about the message being handled, for whoever asks (structured logs)."""

from __future__ import annotations

import contextvars
from uuid import UUID

current_correlation_id: contextvars.ContextVar[UUID | str | None] = contextvars.ContextVar("correlation_id",
                                                                                        default=None)
"""The correlation id of the message being handled; structured logs include it."""
