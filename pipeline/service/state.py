"""What every handler reaches through the application: settings, store, queue, inbox."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

from aiohttp import web

from pipeline.config import Settings
from pipeline.jobs.queue import JobQueue
from pipeline.roster import Roster
from pipeline.service.inbox import Inbox
from pipeline.storage import Store

T = TypeVar("T")
P = ParamSpec("P")


@dataclass(frozen=True, slots=True)
class ServiceState:
    settings: Settings
    store: Store
    queue: JobQueue
    inbox: Inbox
    roster: Roster


STATE = web.AppKey("state", ServiceState)


def state(request: web.Request) -> ServiceState:
    return request.app[STATE]


async def blocking(function: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a database or CPU-bound call off the event loop, so one slow query (or a spaCy
    parse) never stalls the webhooks' acknowledgements."""
    return await asyncio.to_thread(function, *args, **kwargs)
