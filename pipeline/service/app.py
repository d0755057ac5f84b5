"""The aiohttp application: routes, middlewares, and the lifetime of the store and workers."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

import pipeline.jobs.kinds  # noqa: F401  (registers every job kind the app and its workers run)
from pipeline.config import Settings
from pipeline.jobs.queue import JobContext, JobQueue
from pipeline.roster import load_roster
from pipeline.service import api, keys, openapi, ops, webhooks_crm, webhooks_meta, webhooks_twilio
from pipeline.service.auth import auth_middleware, pace_keys
from pipeline.service.errors import error_middleware
from pipeline.service.inbox import Inbox
from pipeline.service.state import STATE, ServiceState
from pipeline.storage import Store

#: Webhook and API bodies are small; a larger one is refused (413) before it is read.
MAX_BODY = 1024 * 1024


def create_app(
    settings: Settings, *, store: Store | None = None, queue: JobQueue | None = None
) -> web.Application:
    """The service. ``store`` and ``queue`` default to ones built from ``settings`` (and are
    then closed with the app); embedded workers run while it serves if
    ``settings.queue.workers > 0``."""
    owned_store = store is None
    store = store if store is not None else Store.open(settings.database_url)
    queue = queue if queue is not None else JobQueue(JobContext(settings, store))
    app = web.Application(middlewares=[error_middleware, auth_middleware], client_max_size=MAX_BODY)
    app[STATE] = ServiceState(
        settings=settings,
        store=store,
        queue=queue,
        inbox=Inbox(store, queue),
        roster=load_roster(settings.team_file),
    )
    pace_keys(app)
    for module in (webhooks_twilio, webhooks_meta, webhooks_crm, api, keys, ops, openapi):
        module.add_routes(app)

    async def lifetime(app: web.Application) -> AsyncIterator[None]:
        if settings.queue.workers > 0:
            queue.start_workers()
        yield
        await app[STATE].inbox.close()
        queue.stop_workers()
        if owned_store:
            store.close()

    app.cleanup_ctx.append(lifetime)
    return app
