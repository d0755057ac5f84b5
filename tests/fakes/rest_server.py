"""A JSON API fake on 127.0.0.1: a real HTTP(S) server in a thread, faults on demand.

Subclasses of :class:`FakeApi` keep records in memory and answer :meth:`FakeApi.route`;
the server here only moves bytes, so the connectors under test go through their real
client libraries (httpx, MSAL's requests session) and real sockets.

Faults apply to the next requests, in order:

- :meth:`FakeApi.fail_next` answers a status, body and headers instead of handling it;
- :meth:`FakeApi.delay_next` handles the request (records change) and answers only after
  a delay, so a client with a shorter timeout gives up on a write that happened.

Either may name a ``method``: the fault then waits for the next request with it.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    #: Parsed JSON, a form as a dict, or ``None``.
    body: Any


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class FakeApi:
    """In-memory state plus a queue of faults; subclasses implement :meth:`route`."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.lock = threading.Lock()
        self._faults: list[tuple[str | None, Reply | float]] = []
        # Whole seconds that move on at every write: two writes never share a timestamp.
        self._now = datetime.now(UTC).replace(microsecond=0)
        self.base_url = ""

    def route(self, request: Request) -> Reply:
        raise NotImplementedError

    def fail_next(
        self,
        status: int,
        body: Any,
        headers: dict[str, str] | None = None,
        *,
        method: str | None = None,
    ) -> None:
        self._faults.append((method, Reply(status, body, headers or {})))

    def delay_next(self, seconds: float, *, method: str | None = None) -> None:
        self._faults.append((method, seconds))

    def tick(self) -> datetime:
        """The time of a write: one second after the previous one."""
        self._now += timedelta(seconds=1)
        return self._now

    def calls(self, method: str, path_prefix: str = "") -> list[Request]:
        return [r for r in self.requests if r.method == method and r.path.startswith(path_prefix)]

    def dispatch(self, request: Request) -> tuple[Reply, float]:
        with self.lock:
            self.requests.append(request)
            fault = self._take_fault(request.method)
            if isinstance(fault, Reply):
                return fault, 0.0
            return self.route(request), fault or 0.0

    def _take_fault(self, method: str) -> Reply | float | None:
        for index, (wanted, fault) in enumerate(self._faults):
            if wanted in (None, method):
                del self._faults[index]
                return fault
        return None


def _handler(api: FakeApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode("utf-8") if length else ""
            form = "form-urlencoded" in (self.headers.get("Content-Type") or "")
            request = Request(
                method=self.command,
                path=url.path,
                query=dict(parse_qsl(url.query)),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=dict(parse_qsl(raw)) if form else json.loads(raw) if raw else None,
            )
            reply, delay = api.dispatch(request)
            time.sleep(delay)
            payload = b"" if reply.body is None else json.dumps(reply.body).encode("utf-8")
            try:
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if payload:
                    self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:
                pass  # the client gave up waiting (a delayed reply): nothing to answer

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def serve(api: FakeApi, tls: ssl.SSLContext | None = None) -> Iterator[str]:
    """Run ``api`` on a free port; yield (and set ``api.base_url`` to) its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(api))
    server.daemon_threads = True  # a delayed reply must not hold up the shutdown
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    api.base_url = f"{'https' if tls else 'http'}://127.0.0.1:{server.server_port}"
    try:
        yield api.base_url
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
