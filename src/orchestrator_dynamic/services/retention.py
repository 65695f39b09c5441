"""Retention: each collection keeps its records for a configured number of days."""

from __future__ import annotations

from collections.abc import Mapping

import structlog

from orchestrator_dynamic.domain.ports import Collection, Store

log = structlog.get_logger(__name__)

DAY_MS = 86_400_000


def check_retention(days: Mapping[str, float]) -> dict[str, float]:
    """Refuse an unknown collection or a non-positive TTL, naming it."""
    for name, ttl in days.items():
        if name not in Collection.ALL:
            raise ValueError(f"unknown collection {name!r} (one of {', '.join(Collection.ALL)})")
        if isinstance(ttl, bool) or not isinstance(ttl, int | float) or ttl <= 0:
            raise ValueError(f"retention of {name!r} must be a positive number of days")
    return dict(days)


async def purge_expired(store: Store, days: Mapping[str, float], now_ms: int) -> dict[str, int]:
    """Delete what is older than each collection's TTL; collections without one keep everything."""
    purged = {}
    for name, ttl in check_retention(days).items():
        purged[name] = await store.purge(name, now_ms - int(ttl * DAY_MS))
        log.info("store_purged", collection=name, records=purged[name], ttl_days=ttl)
    return purged
