"""A real Radicale CalDAV server on 127.0.0.1 for the calendar tests.

Radicale's own WSGI application runs in a thread of the test process: no fixed port (the
OS picks a free one), no waiting for a subprocess, and nothing left running afterwards.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import radicale
import radicale.config


class _QuietHandler(WSGIRequestHandler):
    """wsgiref logs every request to stderr; the test output has no use for it."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def running_radicale(storage: Path) -> Iterator[str]:
    """Serve Radicale storing into ``storage``; yield its base URL (``http://127.0.0.1:N/``).

    Authentication is ``none`` (any Basic user is accepted; Radicale's default ``denyall``
    would refuse everything), so a user may write under ``/<user>/``.
    """
    config = radicale.config.load()  # defaults only: no /etc or ~/.config file is read
    config.update(
        {
            "auth": {"type": "none"},
            "storage": {"filesystem_folder": str(storage)},
            "logging": {"level": "warning"},
        },
        "chat2task tests",
        privileged=True,
    )
    server = make_server("127.0.0.1", 0, radicale.Application(config), handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
