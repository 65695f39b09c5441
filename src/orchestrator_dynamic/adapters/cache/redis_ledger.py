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
US, RS = "\x1f", "\x1e"  # field and record separators of the packed offers
IDLE = WorkerLoad()

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

# KEYS: the reservation. ARGV: ticket, entry, ttl ms, stale-before ms, read, the offers (best
# first) packed as "<worker>US<limit>RS..." (one string: a key per offer cost more in the
# client than the whole script). Every worker hash shares the reservation's hash tag, so it is
# in the same slot: on a cluster the script runs where KEYS[1] lives and finds them all.
# Returns {1, holder} when already held, else {0, chosen (1-based, 0 = none), loads}: loads is
# one string (cheaper to decode than nested replies), records split by RS: the chosen's values
# before it was added, then the first `read` offers' values; values split by US.
RESERVE = (
    _PRUNE
    + """
local holder = redis.call('GET', KEYS[1])
if holder then return {1, holder} end
local stale, read = tonumber(ARGV[4]), tonumber(ARGV[5])
local parts = {''}
local chosen = 0
local j = 0
for id, limit in string.gmatch(ARGV[6], '([^\\30\\31]+)\\31(%d+)') do
  j = j + 1
  if j > read and chosen > 0 then break end
  limit = tonumber(limit)
  local key = '"""
    + PREFIX
    + """w:' .. id
  local count = redis.call('HLEN', key)
  local values = nil
  if j <= read or count >= limit then
    values = entries(key, stale)
    count = #values
    if j <= read then parts[j + 1] = table.concat(values, '\\31') end
  end
  if chosen == 0 and count < limit then
    chosen = j
    parts[1] = table.concat(values or entries(key, stale), '\\31')
    redis.call('HSET', key, ARGV[1], ARGV[2])
    redis.call('SET', KEYS[1], id, 'PX', ARGV[3])
  end
end
return {0, chosen, table.concat(parts, '\\30')}
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
    packed = RS.join(f"{o.worker_id}{US}{o.limit}" for o in offers)
    args: list[str | int] = [
        ticket_id,
        entry_value(entry),
        ttl_ms,
        entry.reserved_at_ms - ttl_ms,
        read,
        packed,
    ]
    return [reservation_key(ticket_id)], args


def reservation_of(reply: list[object], offers: Sequence[SlotOffer], read: int) -> Reservation:
    if _int(reply[0]) == 1:
        return Reservation(_text(reply[1]), already=True)
    chosen = _int(reply[1])
    records = _text(reply[2]).split(RS)
    loads = {}
    for j, offer in enumerate(offers[:read]):
        loads[offer.worker_id] = load_of(records[j + 1] if j + 1 < len(records) else "")
    if chosen == 0:
        return Reservation(None, loads=loads)
    worker = offers[chosen - 1].worker_id
    loads[worker] = load_of(records[0])
    return Reservation(worker, index=chosen - 1, loads=loads)


def load_of(values: object) -> WorkerLoad:
    """A worker's entries, from the packed string of RESERVE or the list of LOADS."""
    if not values:
        return IDLE
    raws = [_text(v) for v in values] if isinstance(values, list) else _text(values).split(US)
    entries = []
    for raw in raws:
        at, _, predicted = raw.partition(":")
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
