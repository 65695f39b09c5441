"""The capacity ledger on Redis: each call is one Lua script, so one round trip and atomic
across orchestrator replicas.

Keys share one hash tag, so on Redis Cluster every ledger key lives in one slot (a script
may only touch keys of one slot): ``ledger:{slots}:res:<ticket>`` holds the worker a ticket is
reserved on (with the reservation's TTL), and the hash ``ledger:{slots}:w:<worker>`` holds
one field per ticket on that worker, ``<reserved_at_ms>:<predicted_ms>``, so the count of
in-flight tickets (HLEN) and their predicted work are read and changed together. Entries
older than the reservation TTL are dropped when read (their reservation expired unreleased).
"""

from __future__ import annotations

from collections.abc import Sequence

from orchestrator_dynamic.domain.ports import Reservation, SlotOffer
from orchestrator_dynamic.domain.queueing import InFlight, WorkerLoad

PREFIX = "ledger:{slots}:"

# Drops the stale entries of one worker's hash; returns its entries' values and its count.
_PRUNE = """
local function entries(key, stale)
  local flat = redis.call('HGETALL', key)
  local values = {}
  for i = 1, #flat, 2 do
    local at = tonumber(string.match(flat[i + 1], '^(%-?%d+)'))
    if at ~= nil and at < stale then
      redis.call('HDEL', key, flat[i])
    else
      values[#values + 1] = flat[i + 1]
    end
  end
  return values
end
"""

# KEYS: the reservation, then each offer's hash (best first).
# ARGV: ticket, entry, ttl ms, stale-before ms, read, then per offer: worker id, limit.
# Returns {1, holder} when already held, else {0, chosen (1-based, 0 = none), values...}.
RESERVE = (
    _PRUNE
    + """
local holder = redis.call('GET', KEYS[1])
if holder then return {1, holder} end
local stale, read = tonumber(ARGV[4]), tonumber(ARGV[5])
local out = {0, 0}
local chosen = 0
for j = 1, #KEYS - 1 do
  if j > read and chosen > 0 then break end
  local key, limit = KEYS[j + 1], tonumber(ARGV[5 + 2 * j])
  local count = redis.call('HLEN', key)
  if j <= read or count >= limit then
    local values = entries(key, stale)
    count = #values
    if j <= read then out[j + 2] = values end
  end
  if chosen == 0 and count < limit then
    chosen = j
    redis.call('HSET', key, ARGV[1], ARGV[2])
    redis.call('SET', KEYS[1], ARGV[4 + 2 * j], 'PX', ARGV[3])
  end
end
out[2] = chosen
return out
"""
)

# KEYS: reservation, from hash, to hash. ARGV: ticket, from id, to id, limit, entry, ttl ms,
# stale-before ms. Returns the worker holding the ticket afterwards.
MOVE = (
    _PRUNE
    + """
local holder = redis.call('GET', KEYS[1])
if holder ~= ARGV[2] then return holder end
if redis.call('HLEN', KEYS[3]) >= tonumber(ARGV[4])
    and #entries(KEYS[3], tonumber(ARGV[7])) >= tonumber(ARGV[4]) then
  return holder
end
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[5])
redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[6])
return ARGV[3]
"""
)

# KEYS: reservation, the worker's hash. ARGV: ticket, worker. Returns 1 when a slot came back.
RELEASE = """
local holder = redis.call('GET', KEYS[1])
if not holder or holder == ARGV[2] then redis.call('DEL', KEYS[1]) end
return redis.call('HDEL', KEYS[2], ARGV[1])
"""

# KEYS: the workers' hashes. Returns each one's values.
LOADS = """
local out = {}
for i = 1, #KEYS do out[i] = redis.call('HVALS', KEYS[i]) end
return out
"""


def reservation_key(ticket_id: str) -> str:
    return f"{PREFIX}res:{ticket_id}"


def worker_key(worker_id: str) -> str:
    return f"{PREFIX}w:{worker_id}"


def entry_value(entry: InFlight) -> str:
    return f"{entry.reserved_at_ms}:{entry.predicted_ms}"


def reserve_args(
    ticket_id: str, offers: Sequence[SlotOffer], entry: InFlight, read: int, ttl_seconds: float
) -> tuple[list[str], list[str | int]]:
    ttl_ms = ttl_of(ttl_seconds)
    keys = [reservation_key(ticket_id), *(worker_key(o.worker_id) for o in offers)]
    args: list[str | int] = [
        ticket_id,
        entry_value(entry),
        ttl_ms,
        entry.reserved_at_ms - ttl_ms,
        read,
    ]
    for offer in offers:
        args += [offer.worker_id, offer.limit]
    return keys, args


def reservation_of(reply: list[object], offers: Sequence[SlotOffer], read: int) -> Reservation:
    if int(_int(reply[0])) == 1:
        return Reservation(_text(reply[1]), already=True)
    chosen = _int(reply[1])
    loads = {}
    for j, offer in enumerate(offers[:read]):
        values = reply[j + 2] if j + 2 < len(reply) else []
        loads[offer.worker_id] = load_of(values)
    if chosen == 0:
        return Reservation(None, loads=loads)
    return Reservation(offers[chosen - 1].worker_id, index=chosen - 1, loads=loads)


def load_of(values: object) -> WorkerLoad:
    entries = []
    for raw in values if isinstance(values, list) else []:
        at, _, predicted = _text(raw).partition(":")
        try:
            entries.append(InFlight(int(at), int(predicted or 0)))
        except ValueError:  # a hand-edited entry: it still takes a slot, with no known work
            entries.append(InFlight(0, 0))
    return WorkerLoad(tuple(entries))


def ttl_of(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _int(value: object) -> int:
    return int(_text(value))
