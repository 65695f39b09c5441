"""Lenient readers for wire values that upstream producers write in more than one way.

The consensus engine embeds the cognitive plan with ``json.dumps(plan, default=str)``, so a plan's
datetimes arrive as ``str(datetime)`` (``"2026-02-21 10:18:08.353000+00:00"``) or as ISO-8601 with a
``T`` and ``Z``; its Avro records carry epoch milliseconds. Maps declared ``map<string>`` sometimes
carry numbers or booleans. These helpers turn all of them into the one form the models keep.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)


def epoch_ms(value: Any) -> Any:
    """Epoch milliseconds from an int, an integral float, a digit string or an ISO-8601 datetime
    (``T`` or space separator; ``Z``, an offset or none, meaning UTC; any sub-second precision,
    truncated to the millisecond as upstream's ``int(ts.timestamp() * 1000)`` does).

    None passes through (optional fields); anything else raises ValueError saying what is
    accepted, which pydantic reports under the field's name."""
    if value is None or isinstance(value, bool):
        if value is None:
            return None
        raise ValueError("a timestamp cannot be a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("a timestamp must be a finite number")
        return int(value)
    if isinstance(value, datetime):
        return _datetime_ms(value)
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("-").isdigit():
            return int(text)
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(
                "not a timestamp: expected epoch milliseconds or ISO-8601 "
                "(e.g. 2026-02-21T10:18:08.353Z)"
            ) from None
        return _datetime_ms(parsed)
    raise ValueError(f"a timestamp cannot be a {type(value).__name__}")


def _datetime_ms(value: datetime) -> int:
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return (aware - EPOCH) // _ONE_MS


def string_map(value: Any) -> Any:
    """A ``map<string>``: scalar values become strings (numbers as JSON writes them, booleans
    ``true``/``false``), nulls are dropped (an absent entry says the same); a list or an object as
    a value is left for validation to refuse, naming the key."""
    if not isinstance(value, dict):
        return value
    out: dict[Any, Any] = {}
    for key, item in value.items():
        if item is None:
            continue
        if isinstance(item, bool | int | float):
            out[key] = json.dumps(item)
        else:
            out[key] = item
    return out
