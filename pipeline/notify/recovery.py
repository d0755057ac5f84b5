"""Bounding what recovery re-queues.

Recovery runs every minute and cannot tell a lost job from one still waiting in a long
queue: re-submitting a whole backlog each minute would grow the queue without end. Each
process therefore remembers what its recovery submitted and leaves it alone for a while; a
new process (the crash case) remembers nothing and re-submits everything unfinished.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Iterable
from typing import TypeVar

K = TypeVar("K", bound=Hashable)

#: How long a re-submitted piece of work is trusted to be in the queue.
TRUST_SECONDS = 600.0


class Resubmissions:
    def __init__(
        self, ttl: float = TRUST_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._at: dict[Hashable, float] = {}

    def fresh(self, keys: Iterable[K]) -> list[K]:
        """The keys not submitted within the TTL; they are recorded as submitted now."""
        with self._lock:
            now = self._clock()
            self._at = {k: t for k, t in self._at.items() if now - t < self._ttl}
            chosen = [k for k in keys if k not in self._at]
            self._at.update((k, now) for k in chosen)
            return chosen
