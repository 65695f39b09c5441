"""The settings one simulation run varies (``--set KEY=VALUE``, ``--compare``, ``--sweep``).

Every key maps to a knob of the real code: priority weights and aging of ``ExecutionState``,
its in-flight limit, the fleet (count, capacity), the placement policy and C3's deadline
tolerance, retry limits and back-off, and the SLA timeout rule of C2.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from orchestrator_dynamic.domain.queueing import DEFAULT_SCORE_TOLERANCE


class Placement(StrEnum):
    INTELLIGENT = "intelligent"
    ROUND_ROBIN = "round-robin"
    PREDICTED = "predicted"


class SettingError(ValueError):
    """A --set/--compare/--sweep value that cannot be used; the message names key and reason."""


@dataclass(frozen=True)
class SimConfig:
    """One setting of the simulation; the defaults are the service's embedded defaults."""

    risk_weight: float = 0.4
    qos_weight: float = 0.3
    sla_weight: float = 0.3
    aging: float = 0.05  # priority per minute spent ready (ExecutionState.aging_per_minute)
    max_parallel: int = 100  # SCHEDULER_MAX_PARALLEL_TICKETS: tickets in flight per plan
    workers: int | None = None  # fleet size; None keeps the workers file as it is
    capacity: int | None = None  # max_concurrent_tasks of every worker; None keeps each one's
    placement: Placement = Placement.INTELLIGENT
    retries: int | None = None  # sla.max_retries of every ticket; None keeps the band's rule
    retry_initial_ms: int = 1_000
    retry_backoff: float = 2.0
    retry_max_ms: int = 60_000
    min_timeout_ms: int = 60_000
    timeout_buffer: float = 3.0
    # SCHEDULER_DEADLINE_SCORE_TOLERANCE: scores this close let the deadline decide (C3).
    score_tolerance: float = DEFAULT_SCORE_TOLERANCE


def _non_negative_float(raw: str) -> float:
    value = float(raw)
    if value < 0:
        raise ValueError("must be >= 0")
    return value


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value < 1:
        raise ValueError("must be >= 1")
    return value


def _non_negative_int(raw: str) -> int:
    value = int(raw)
    if value < 0:
        raise ValueError("must be >= 0")
    return value


def _positive_float(raw: str) -> float:
    value = float(raw)
    if value <= 0:
        raise ValueError("must be > 0")
    return value


def _fraction(raw: str) -> float:
    value = float(raw)
    if not 0 <= value <= 1:
        raise ValueError("must be between 0 and 1")
    return value


def _placement(raw: str) -> Placement:
    text = raw.strip().lower().replace("_", "-")
    aliases = {"rr": "round-robin", "roundrobin": "round-robin", "predicted-duration": "predicted"}
    try:
        return Placement(aliases.get(text, text))
    except ValueError:
        allowed = ", ".join(p.value for p in Placement)
        raise ValueError(f"must be one of {allowed}") from None


# key -> (parser, what it means); the order is the order of the help text.
KEYS: dict[str, tuple[Callable[[str], object], str]] = {
    "risk_weight": (_non_negative_float, "priority weight of the risk band (0.4)"),
    "qos_weight": (_non_negative_float, "priority weight of the QoS (0.3)"),
    "sla_weight": (_non_negative_float, "priority weight of SLA urgency (0.3)"),
    "aging": (_non_negative_float, "priority a ready ticket gains per minute waiting (0.05)"),
    "max_parallel": (_positive_int, "tickets in flight per plan (100)"),
    "workers": (_positive_int, "fleet size: the workers file repeated or cut to N"),
    "capacity": (_positive_int, "max_concurrent_tasks of every worker"),
    "placement": (_placement, "intelligent | round-robin | predicted"),
    "retries": (_non_negative_int, "max retries of every ticket (default: by risk band)"),
    "retry_initial_ms": (_non_negative_int, "back-off before the first retry (1000)"),
    "retry_backoff": (_positive_float, "back-off coefficient (2.0)"),
    "retry_max_ms": (_non_negative_int, "longest back-off (60000)"),
    "min_timeout_ms": (_non_negative_int, "shortest ticket timeout (60000)"),
    "timeout_buffer": (_positive_float, "timeout = estimate x buffer (3.0)"),
    "score_tolerance": (_fraction, "scores this close let the deadline pick the worker (0.05)"),
}
NUMERIC = frozenset(k for k in KEYS if k != "placement")
INTEGER = frozenset(
    k for k, (parse, _) in KEYS.items() if parse in (_positive_int, _non_negative_int)
)


def canonical_key(raw: str) -> str:
    key = raw.strip().lower().replace("-", "_")
    if key not in KEYS:
        raise SettingError(f"unknown setting {raw!r}: one of {', '.join(KEYS)}")
    return key


def with_setting(config: SimConfig, key: str, raw: str) -> SimConfig:
    """``config`` with ``key`` set from its text; SettingError names the key and the reason."""
    name = canonical_key(key)
    parse = KEYS[name][0]
    try:
        value = parse(raw.strip())
    except ValueError as exc:
        reason = str(exc) if str(exc).startswith("must") else f"{raw!r} is not a valid value"
        raise SettingError(f"setting {name}: {reason}") from None
    # Each parser returns its key's type (KEYS pairs them); mypy cannot see through the table.
    return dataclasses.replace(config, **{name: value})  # type: ignore[arg-type]


def split_assignment(text: str, option: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip() or not value.strip():
        raise SettingError(f"{option} {text!r}: expected KEY=VALUE")
    return canonical_key(key), value.strip()


def compare_values(text: str) -> tuple[str, list[str]]:
    """``KEY=V1,V2,...`` of --compare."""
    key, values = split_assignment(text, "--compare")
    items = [v.strip() for v in values.split(",") if v.strip()]
    if len(items) < 2:
        raise SettingError(f"--compare {text!r}: give at least two values, comma-separated")
    return key, items


def sweep_values(text: str) -> tuple[str, list[str]]:
    """``KEY=lo..hi:steps`` of --sweep: ``steps`` evenly spaced values from lo to hi."""
    key, spec = split_assignment(text, "--sweep")
    if key not in NUMERIC:
        raise SettingError(f"--sweep {key}: only a numeric setting can be swept")
    bounds, _, steps_text = spec.partition(":")
    lo_text, sep, hi_text = bounds.partition("..")
    try:
        lo, hi, steps = float(lo_text), float(hi_text), int(steps_text or "5")
    except ValueError:
        raise SettingError(f"--sweep {text!r}: expected KEY=lo..hi:steps") from None
    if not sep or steps < 2 or hi < lo:
        raise SettingError(f"--sweep {text!r}: expected lo <= hi and at least 2 steps")
    values = [lo + (hi - lo) * i / (steps - 1) for i in range(steps)]
    if key in INTEGER:
        # Integer settings keep distinct whole values only (1..4:10 is 1, 2, 3, 4).
        return key, [str(v) for v in dict.fromkeys(round(v) for v in values)]
    return key, [f"{v:.6g}" for v in values]
