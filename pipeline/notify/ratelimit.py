"""Sending pace: a token bucket per sender number plus a floor between messages to one person.

WhatsApp throttles both a business number's throughput (Meta 130429, Twilio 20429) and the
rate to a single user (131056, "pair rate"). Waiting in a worker would block a thread, so
:meth:`RateLimiter.reserve` only answers how long to wait and the caller reschedules.

:class:`RateLimiter` keeps the state in the process, which is all the embedded queue needs.
In broker mode several ``chat2task worker`` processes send for the same number, so
:class:`RedisRateLimiter` keeps the same buckets in the Redis the queue already uses, updated
by one Lua script per booking (atomic, and timed by the Redis clock, not each host's).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from typing import Protocol

import redis

from pipeline.jobs.queue import is_redis_url

_PRUNE_AT = 4096


class Pacer(Protocol):
    def reserve(self, sender: str, recipient: str) -> float:
        """0 and a send is booked, or the seconds to wait before asking again."""
        ...


class RateLimiter:
    def __init__(
        self,
        rate: float,
        recipient_interval: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rate = rate
        self._burst = max(1.0, rate)
        self._interval = recipient_interval
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # sender -> (tokens, at)
        self._last_sent: dict[tuple[str, str], float] = {}

    def reserve(self, sender: str, recipient: str) -> float:
        """0 and a send is booked, or the seconds to wait before asking again."""
        with self._lock:
            now = self._clock()
            last = self._last_sent.get((sender, recipient))
            if last is not None and now - last < self._interval:
                return self._interval - (now - last)
            tokens, at = self._buckets.get(sender, (self._burst, now))
            tokens = min(self._burst, tokens + (now - at) * self._rate)
            if tokens < 1:
                self._buckets[sender] = (tokens, now)
                return (1 - tokens) / self._rate
            self._buckets[sender] = (tokens - 1, now)
            if len(self._last_sent) >= _PRUNE_AT:
                self._last_sent = {
                    k: t for k, t in self._last_sent.items() if now - t < self._interval
                }
            self._last_sent[sender, recipient] = now
            return 0.0


#: KEYS: the sender's bucket, the (sender, recipient) pair; ARGV: rate, burst, interval.
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local rate, burst, interval = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local last = tonumber(redis.call('GET', KEYS[2]))
if last and now - last < interval then return tostring(interval - (now - last)) end
local bucket = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(bucket[1]) or burst
local at = tonumber(bucket[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local ttl = math.ceil(burst / rate * 1000) + 1000
if tokens < 1 then
  redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
  redis.call('PEXPIRE', KEYS[1], ttl)
  return tostring((1 - tokens) / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens - 1), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], ttl)
if interval > 0 then
  redis.call('SET', KEYS[2], tostring(now), 'PX', math.ceil(interval * 1000))
end
return '0'
"""


class RedisRateLimiter:
    """The same pace as :class:`RateLimiter`, shared by every process using ``client``.

    Keys expire once idle; recipients appear in them only as a hash of the number.
    """

    def __init__(
        self, client: redis.Redis, rate: float, recipient_interval: float, *, prefix: str
    ) -> None:
        self._script = client.register_script(_RESERVE)
        self._args = (rate, max(1.0, rate), recipient_interval)
        self._prefix = prefix

    def reserve(self, sender: str, recipient: str) -> float:
        pair = hashlib.sha256(f"{sender}\0{recipient}".encode()).hexdigest()[:24]
        keys = [f"{self._prefix}:pace:{sender}", f"{self._prefix}:pace:pair:{pair}"]
        return float(self._script(keys=keys, args=self._args))


def shared_pacer(queue_url: str, rate: float, interval: float, *, name: str) -> Pacer:
    """A limiter every process shares when the queue runs on Redis, else one in-process."""
    if is_redis_url(queue_url):
        client = redis.Redis.from_url(queue_url)
        return RedisRateLimiter(client, rate, interval, prefix=f"chat2task:{name}")
    return RateLimiter(rate, interval)
