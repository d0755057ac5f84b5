"""Send pacing: a token bucket per sender and a floor per recipient, in the process for the
embedded queue and in Redis for worker processes that share one sender."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import redis

from pipeline.config import QueueSettings, Settings
from pipeline.notify.ratelimit import Pacer, RateLimiter, RedisRateLimiter
from pipeline.notify.services import make_pacer

SENDER, ANA, BEN, CAL = "twilio", "+447700900101", "+447700900102", "+447700900103"
Build = Callable[[float, float], Pacer]


class FrozenClock:
    """In-process limiters read this; the Redis ones read the Redis clock, and these tests
    finish well inside the intervals they check."""

    now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def build(request: pytest.FixtureRequest) -> Build:
    if request.param == "memory":
        clock = FrozenClock()
        return lambda rate, interval: RateLimiter(rate, interval, clock=clock)
    client = redis.Redis.from_url(request.getfixturevalue("redis_url"))
    request.addfinalizer(client.close)
    return lambda rate, interval: RedisRateLimiter(client, rate, interval, prefix="test")


def test_a_sender_may_burst_to_its_rate_then_waits(build: Build) -> None:
    pacer = build(2.0, 0.0)
    assert [pacer.reserve(SENDER, to) for to in (ANA, BEN)] == [0.0, 0.0]
    wait = pacer.reserve(SENDER, CAL)
    assert 0.4 < wait <= 0.5
    assert pacer.reserve("meta", CAL) == 0.0  # another sender has its own bucket


def test_one_recipient_waits_the_pair_interval(build: Build) -> None:
    pacer = build(100.0, 30.0)
    assert pacer.reserve(SENDER, ANA) == 0.0
    assert 29.0 < pacer.reserve(SENDER, ANA) <= 30.0
    assert pacer.reserve(SENDER, BEN) == 0.0


@pytest.mark.redis
def test_worker_processes_share_the_pace_through_redis(redis_url: str) -> None:
    """Two limiters on two connections stand for two worker processes."""
    first, second = (
        RedisRateLimiter(redis.Redis.from_url(redis_url), 1.0, 30.0, prefix="test")
        for _ in range(2)
    )
    assert first.reserve(SENDER, ANA) == 0.0
    assert 29.0 < second.reserve(SENDER, ANA) <= 30.0  # the pair floor is shared
    assert 0.9 < second.reserve(SENDER, BEN) <= 1.0  # and so is the sender's bucket


@pytest.mark.redis
def test_recipients_are_not_stored_in_clear(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    RedisRateLimiter(client, 1.0, 30.0, prefix="test").reserve(SENDER, ANA)
    keys = [key.decode() for key in client.keys("test:*")]
    assert len(keys) == 2 and not [key for key in keys if "7700900101" in key]
    assert all(0 < client.pttl(key) <= 30_000 for key in keys)  # and they expire


@pytest.mark.redis
@pytest.mark.parametrize(("url", "kind"), [("", RateLimiter), ("redis", RedisRateLimiter)])
def test_the_queue_mode_chooses_the_limiter(redis_url: str, url: str, kind: type) -> None:
    settings = Settings(queue=QueueSettings(url=redis_url if url else ""))
    assert isinstance(make_pacer(settings), kind)
