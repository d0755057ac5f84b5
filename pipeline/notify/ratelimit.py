"""Sending pace: a token bucket per sender number plus a floor between messages to one person.

WhatsApp throttles both a business number's throughput (Meta 130429, Twilio 20429) and the
rate to a single user (131056, "pair rate"). Waiting in a worker would block a thread, so
:meth:`RateLimiter.reserve` only answers how long to wait and the caller reschedules.

The state lives in the process: with several worker processes each paces itself, so set
``send_rate`` to the provider's limit divided by the number of processes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

_PRUNE_AT = 4096


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
