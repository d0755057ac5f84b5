"""``chat2task serve``: provider webhooks in, a REST API for tasks, health and metrics.

:func:`pipeline.service.app.create_app` builds the aiohttp application; the modules beside
it hold one concern each (a provider's webhook, the REST handlers, API-key auth,
operations endpoints). This package imports nothing itself, so the CLI can register
``serve`` and ``keys`` without loading the web stack.
"""
