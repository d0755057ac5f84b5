"""The objects the notify jobs share within a process, built once through the JobContext.

Tests pre-fill them (``JobContext(..., services={"clock": ..., "extractor": ...})``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from pipeline.config import Settings
from pipeline.jobs.queue import JobContext, JobQueue
from pipeline.notify.ratelimit import Pacer, shared_pacer
from pipeline.notify.recovery import Resubmissions
from pipeline.notify.senders import Sender, make_sender
from pipeline.notify.templates import Templates, load_templates

Clock = Callable[[], datetime]


def job_queue(context: JobContext) -> JobQueue:
    """Where handlers submit follow-up jobs. Handlers are not given their queue, so a process
    registers it (``context.service("queue", lambda: queue)``); if none did, a second client
    of the same back end is built, which reaches the same workers."""
    queue: JobQueue = context.service("queue", lambda: JobQueue(context))
    return queue


def clock(context: JobContext) -> Clock:
    now: Clock = context.service("clock", lambda: _utcnow)
    return now


def templates(context: JobContext) -> Templates:
    loaded: Templates = context.service("templates", lambda: load_templates(context.settings))
    return loaded


def rate_limiter(context: JobContext) -> Pacer:
    limiter: Pacer = context.service("rate_limiter", lambda: make_pacer(context.settings))
    return limiter


def make_pacer(settings: Settings) -> Pacer:
    """The sending pace; shared through Redis in broker mode, where several worker
    processes send for the same numbers."""
    service = settings.service
    return shared_pacer(
        settings.queue.url, service.send_rate, service.recipient_interval_seconds, name="send"
    )


def sender(context: JobContext, channel: str) -> Sender:
    built: Sender = context.service(
        f"sender:{channel}", lambda: make_sender(channel, context.settings.service)
    )
    return built


def resubmissions(context: JobContext, kind: str) -> Resubmissions:
    memory: Resubmissions = context.service(f"resubmissions:{kind}", Resubmissions)
    return memory


def _utcnow() -> datetime:
    return datetime.now(UTC)
